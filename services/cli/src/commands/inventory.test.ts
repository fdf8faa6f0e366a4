import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findingId, loadConfig, sampleEvent, silentLogger, type AiEvent } from '@aispm/core';
import { parseReadKeys, startSqlEndpoint } from '@aispm/sqlhttp';
import { ChdbStore, EVENTS_TABLE, clickhouseTime, eventRow, migrate } from '@aispm/store';
import { readInventory } from '@aispm/processor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryJson, inventoryTable, policyFrom } from './inventory.ts';
import { openReadSource, plainReadKeys } from './inventory-source.ts';
import { postureJson, postureText } from './posture.ts';
import { computePosture } from '@aispm/processor';

const T0 = (Date.now() - 3_600_000) * 1000;
const KEY = 'acme-read-key-0123456789';
let n = 0;
const event = (over: Partial<AiEvent> = {}): AiEvent =>
  sampleEvent({
    event_id: `e${++n}`,
    time: T0 + n * 1_000_000,
    kind: 'llm_call',
    app: 'support',
    agent: 'helper',
    tool_name: null,
    destination: 'api.openai.com',
    attributes: {},
    ...over,
  });

function findingRecord(tenant: string, asset: string, assetType: string, type: string, rule: string) {
  return {
    tenant,
    id: findingId(tenant, type, asset, rule),
    asset,
    asset_type: assetType,
    type,
    rule,
    severity: 'high',
    score: 0.9,
    title: `${rule} on ${asset}`,
    evidence: [],
    event_ids: [],
    first_seen: clickhouseTime(T0),
    last_seen: clickhouseTime(T0),
    occurrences: 1,
    status: 'open',
    owasp_llm: [],
    mitre_atlas: [],
    model: 'test',
  };
}

describe('aispm inventory and posture: reading the store', () => {
  let folder: string;
  let dataDir: string;
  let policyFile: string;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'aispm-cli-inventory-'));
    dataDir = join(folder, 'data');
    policyFile = join(folder, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({ approved: { providers: ['openai'], apps: ['support'] }, owners: { 'app:support': 'team-s' } }),
    );
    const store = await ChdbStore.open({ path: join(dataDir, 'chdb'), database: 'aispm' });
    await migrate(store);
    await store.insert(
      EVENTS_TABLE,
      [
        event(),
        event({ provider: 'deepseek', app: 'side', agent: null }),
        event({ tenant: 'beta', app: 'b-app', agent: null }),
      ].map(eventRow),
    );
    await store.insert('findings', [
      findingRecord('acme', 'acme/support/helper', 'agent', 'content', 'prompt_injection.direct'),
      findingRecord('beta', 'beta/b-app/-', 'app', 'behaviour_anomaly', 'token_spike'),
    ]);
    await store.close();
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('opens the store directly when no SQL endpoint is configured, and prints every tenant', async () => {
    const config = loadConfig({ AISPM_DATA_DIR: dataDir });
    const source = await openReadSource(config, silentLogger);
    try {
      expect(source.via).toContain('chdb at');
      expect(await source.tenants()).toEqual(['acme', 'beta']);
      const policy = policyFrom(policyFile, {});
      const reports = [];
      for (const tenant of await source.tenants())
        reports.push({ tenant, assets: await readInventory(source.forTenant(tenant), tenant, policy) });
      const table = inventoryTable(reports, source.via);
      expect(table).toMatch(/tenant acme: \d+ assets/);
      expect(table).toMatch(/provider\s+deepseek\s+unapproved/);
      expect(table).toMatch(/app\s+support\s+approved\s+team-s\s+0/);
      expect(table).toMatch(/agent\s+helper\s+-\s+-\s+1/);
      const lines = inventoryJson(reports)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toContainEqual(
        expect.objectContaining({
          tenant: 'acme',
          kind: 'provider',
          name: 'deepseek',
          approval: 'unapproved',
          events: 1,
        }),
      );
      expect(lines.find((l) => l.kind === 'agent' && l.name === 'helper')).toMatchObject({ open_findings: 1 });

      const posture = await computePosture(source.forTenant('acme'), 'acme', policy);
      const text = postureText([{ tenant: 'acme', posture }], false, source.via);
      expect(text).toMatch(/tenant acme: posture \d+\.\d\/100, 1 open findings/);
      expect(text).toContain('1. +');
      expect(text).toContain('prompt_injection.direct');
      expect(text).toContain('Approve provider deepseek');
      const json = JSON.parse(postureJson([{ tenant: 'acme', posture }]).trim()) as {
        score: number;
        actions: { points: number }[];
        assets: { kind: string; name: string; score: number }[];
      };
      expect(json.score).toBeLessThan(100);
      expect(json.actions.length).toBeGreaterThan(0);
      expect(json.assets.map((a) => `${a.kind}:${a.name}`)).toContain('agent:helper');
    } finally {
      await source.close();
    }
    // --tenant limits the report.
    const one = await openReadSource(config, silentLogger, { tenant: 'beta' });
    expect(await one.tenants()).toEqual(['beta']);
    await one.close();
  });

  it('reads through the SQL endpoint of a running instance, as the tenant whose key it has', async () => {
    const store = await ChdbStore.open({ path: join(dataDir, 'chdb'), database: 'aispm' });
    const endpoint = await startSqlEndpoint({
      store,
      keys: parseReadKeys(`acme:${KEY}`),
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const port = new URL(endpoint.url).port;
      const env = { AISPM_DATA_DIR: dataDir, AISPM_SQL_KEYS: `acme:${KEY}`, AISPM_SQL_PORT: port };
      const source = await openReadSource(loadConfig(env), silentLogger);
      expect(source.via).toBe(`the SQL endpoint at http://127.0.0.1:${port}`);
      expect(await source.tenants()).toEqual(['acme']);
      const assets = await readInventory(source.forTenant('acme'), 'acme', policyFrom(policyFile, {}));
      const direct = await readInventory(store, 'acme', policyFrom(policyFile, {}));
      expect(assets).toEqual(direct);
      const posture = await computePosture(source.forTenant('acme'), 'acme', policyFrom(policyFile, {}));
      expect(posture).toEqual(await computePosture(store, 'acme', policyFrom(policyFile, {})));
      // A tenant without a plain key is refused with what to do.
      const other = await openReadSource(loadConfig(env), silentLogger, { tenant: 'beta' });
      await expect(other.tenants()).rejects.toThrow(/no plain key for tenant beta/);
    } finally {
      await endpoint.close();
      await store.close();
    }
  });

  it('says what to do when a running instance holds the embedded store and no endpoint is reachable', async () => {
    const holder = await holdStore(join(dataDir, 'chdb'));
    try {
      const config = loadConfig({ AISPM_DATA_DIR: dataDir, AISPM_SQL_PORT: '1' });
      await expect(openReadSource(config, silentLogger)).rejects.toMatchObject({
        code: 'store_in_use',
        message: expect.stringMatching(/aispm up[\s\S]*AISPM_SQL_KEYS/) as unknown,
      });
    } finally {
      holder.kill('SIGTERM');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
  });

  it('reads plain keys only', () => {
    expect([...plainReadKeys(`a:${KEY}, b:sha256:${'0'.repeat(64)}\n# c:zzz\nd:${KEY}2`)]).toEqual([
      ['a', KEY],
      ['d', `${KEY}2`],
    ]);
  });
});

/** Another process that opens the chdb folder and keeps it, as `aispm up` does. */
async function holdStore(path: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { ChdbStore } from '@aispm/store';
       const s = await ChdbStore.open({ path: ${JSON.stringify(path)}, database: 'aispm' });
       await s.query('SELECT 1');
       process.stdout.write('ready\\n');
       process.on('SIGTERM', async () => { await s.close(); process.exit(0); });
       setInterval(() => {}, 1000);`,
    ],
    { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the holder exited (${code})`)));
  });
  return child;
}
