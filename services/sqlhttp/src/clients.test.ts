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

  // clickhouse-go reads Native only, with client_protocol_version set, expecting block info and the custom
  // serialization byte; the endpoint frames the engine's column data so (native.ts).
  it('queries with bound parameters in Native format, sees only its tenant, and can neither write nor read files', async () => {
    for (const tenant of ['acme', 'globex'] as const) {
      const { stdout } = await run(binary, [], { env: env(tenant), timeout: 60_000 });
      const out = JSON.parse(stdout) as Record<string, unknown>;
      expect(out.version).toBe('26.7.2.1');
      expect(out.entities).toEqual([0, 1, 2].map((i) => `${tenant}/agent-${i}`));
      expect(out.scores).toHaveLength(3);
      const base = tenant === 'acme' ? 0.1 : 0.2;
      (out.scores as number[]).forEach((score, i) => expect(score).toBeCloseTo(base + i * 0.01, 5));
      expect(out.count).toBe(3);
      expect(out.tenants).toEqual([tenant]);
      // clickhouse-go prints the server's exception as "code: N, message: …".
      expect(out.insert_error).toMatch(/code: 164\b.*readonly/i);
      expect(out.drop_error).toMatch(/code: 164\b/i);
      expect(out.file_error).toMatch(/code: 497\b/i);
      expect(out.other_db_error).toMatch(/code: 497\b/i);
      expect(JSON.stringify(out)).not.toContain(fixture.secret);
    }
  });
});
