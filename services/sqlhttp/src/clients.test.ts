import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePythonVenv, REPO } from '../../../test/setup/python.ts';
import { openFixture, type Fixture } from './fixture.ts';

const run = promisify(execFile);
const GO_CLIENT = join(REPO, 'test/clients/go');
const PY_CLIENT = join(REPO, 'test/clients/python/clickhouse_connect_client.py');
/** Built programs go under .vitest-tmp (git-ignored). */
const BUILD = join(REPO, '.vitest-tmp/sqlhttp-clients');

let fixture: Fixture;
beforeAll(async () => {
  fixture = await openFixture();
}, 120_000);
afterAll(() => fixture?.close());

function env(tenant: 'acme' | 'globex'): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SQL_HOST: '127.0.0.1',
    SQL_PORT: String(fixture.port),
    SQL_ADDR: `127.0.0.1:${fixture.port}`,
    SQL_USER: tenant,
    SQL_KEY: fixture.keys[tenant],
    SQL_DATABASE: fixture.database,
    SQL_SECRET_FILE: fixture.secretFile,
  };
}

describe('Python clickhouse-connect (HTTP) against the SQL endpoint', () => {
  it('queries with bound parameters in Native format, sees only its tenant, and can neither write nor read files', async () => {
    const { python } = await ensurePythonVenv();
    for (const tenant of ['acme', 'globex'] as const) {
      const { stdout } = await run(python, [PY_CLIENT], { env: env(tenant), timeout: 60_000 });
      const out = JSON.parse(stdout) as Record<string, unknown>;
      expect(out.version).toBe('26.7.2.1');
      expect(out.entities).toEqual([0, 1, 2].map((i) => `${tenant}/agent-${i}`));
      expect(out.reasons).toEqual([0, 1, 2].map((i) => [`${tenant} secret reason ${i}`]));
      expect(out.count).toBe(3);
      expect(out.tenants).toEqual([tenant]);
      // 64-bit integers unquoted in JSON: a 26.x server's default, not the store's pinned setting.
      expect(out.json_rows).toEqual([{ c: 3 }]);
      expect(out.insert_error).toContain('Code: 164');
      expect(out.create_error).toContain('Code: 164');
      expect(out.file_error).toContain('Code: 497');
      expect(JSON.stringify(out)).not.toContain(fixture.secret);
    }
  });
});

describe('Go clickhouse-go v2 (HTTP) against the SQL endpoint', () => {
  let binary: string;
  beforeAll(async () => {
    try {
      await run('go', ['version']);
    } catch (err) {
      throw new Error(
        `Go is needed to build test/clients/go (clickhouse-go v2) and is not available: ${(err as Error).message}; install Go 1.26 (https://go.dev/dl/) and put \`go\` on PATH`,
      );
    }
    mkdirSync(BUILD, { recursive: true });
    binary = join(BUILD, 'clickhouse-go-client');
    await run('go', ['build', '-o', binary, '.'], { cwd: GO_CLIENT, timeout: 600_000 });
  }, 600_000);

  // clickhouse-go reads Native only, with client_protocol_version set, expecting block info and serialization
  // kinds; the embedded engine writes revision-0 Native. The endpoint says so instead of sending bytes the
  // client would misread. test/clients/go/main.go covers parameters, isolation and readonly once it can read.
  it('fails at connect with a clear NOT_IMPLEMENTED exception naming client_protocol_version, never with misread data', async () => {
    const failure = await run(binary, [], { env: env('acme'), timeout: 60_000 }).then(
      () => null,
      (err: { stderr?: string }) => err.stderr ?? '',
    );
    expect(failure).not.toBeNull();
    expect(failure).toContain('client_protocol_version');
    expect(failure).toMatch(/48|NOT_IMPLEMENTED/);
    expect(failure).not.toContain(fixture.secret);
  });
});
