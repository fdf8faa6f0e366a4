import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbStore, migrate } from '@aispm/store';
import { parseOperatorKeys, parseReadKeys } from './keys.ts';
import { startSqlEndpoint, type RunningSqlEndpoint } from './start.ts';

/** Test support: a real chdb store with the aispm schema, rows of two tenants, and the endpoint on loopback. */
export interface Fixture {
  store: ChdbStore;
  endpoint: RunningSqlEndpoint;
  url: string;
  port: number;
  database: string;
  /** Each tenant's key, and the operator's (random per run). */
  keys: { acme: string; globex: string; operator: string };
  /** A file the engine could read if a query escaped: its content must never reach a client. */
  secretFile: string;
  secret: string;
  close(): Promise<void>;
}

export const TENANTS = ['acme', 'globex'] as const;

export async function openFixture(): Promise<Fixture> {
  const folder = mkdtempSync(join(tmpdir(), 'aispm-sqlhttp-'));
  const database = 'aispm_sql';
  const store = await ChdbStore.open({ path: join(folder, 'chdb'), database });
  await migrate(store);
  const rows = TENANTS.flatMap((tenant, t) =>
    [0, 1, 2].map((i) => ({
      tenant,
      event_id: `${tenant}-e${i}`,
      time: new Date(Date.now() - (i + 1) * 3_600_000).toISOString().replace('T', ' ').replace('Z', ''),
      entity_type: 'agent',
      entity: `${tenant}/agent-${i}`,
      app: `${tenant}-app`,
      score: (t + 1) * 0.1 + i * 0.01,
      learning: false,
      features: ['rate'],
      reasons: [`${tenant} secret reason ${i}`],
      model: 'm1',
    })),
  );
  await store.insert('anomaly_scores', rows);
  // The pipeline's own figures: rows of no tenant, for the operator's key.
  const at = new Date().toISOString().replace('T', ' ').replace('Z', '');
  await store.insert(
    'pipeline_stats',
    ['trace', 'agents'].map((stage, partition) => ({
      time: at,
      stage,
      topic: 'aispm.events.v1',
      partition,
      records_in: 10,
    })),
  );
  const secret = `file-secret-${randomBytes(8).toString('hex')}`;
  const secretFile = join(folder, 'secret.txt');
  writeFileSync(secretFile, `${secret}\n`);
  const keys = {
    acme: randomBytes(16).toString('hex'),
    globex: randomBytes(16).toString('hex'),
    operator: randomBytes(16).toString('hex'),
  };
  const endpoint = await startSqlEndpoint({
    store,
    keys: parseReadKeys(`acme:${keys.acme}\nglobex:${keys.globex}`),
    operatorKeys: parseOperatorKeys(`operator:${keys.operator}`),
    port: 0,
  });
  const port = Number(new URL(endpoint.url).port);
  return {
    store,
    endpoint,
    url: endpoint.url,
    port,
    database,
    keys,
    secretFile,
    secret,
    async close() {
      await endpoint.close();
      await store.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
