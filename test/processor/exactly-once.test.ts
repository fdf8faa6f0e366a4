import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventCodec, eventKey, loadConfig, silentLogger } from '@aispm/core';
import { MemoryBus } from '@aispm/bus';
import {
  ChdbStore,
  migrate,
  type AvroColumns,
  type AvroRecords,
  type InsertOptions,
  type Row,
  type Store,
} from '@aispm/store';
import { generateTraffic } from '@aispm/cli';
import { Processor, StoreStateTable, behaviourRaiser, type StateBackend } from '@aispm/processor';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { snapshot, type Snapshot } from '../store/tables.ts';

/**
 * Exactly-once into the store through the processor (issue 22). A processor writes a
 * batch's rows, then crashes before the batch's checkpoint (the state backend fails
 * it; the processor is stopped there, as a killed process would be, and a new one is
 * started on the same bus, group and store). The new processor restores the
 * checkpointed state, is handed the uncommitted batch again, probes the store and
 * writes under the same deduplication tokens. Every table and every per-minute rollup
 * must end as an uninterrupted run of the same stream leaves them (the findings'
 * resolution records apart, see below); without the tokens they do not.
 */
const config = loadConfig({});
const { topics } = config;
const folder = mkdtempSync(join(tmpdir(), 'aispm-exactly-once-'));
const stores: ChdbStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  rmSync(folder, { recursive: true, force: true });
});

const traffic = [
  ...generateTraffic({ seed: 17, total: 1200, tenant: 'acme', spanMs: 6 * 3_600_000, endMs: Date.now() - 60_000 }),
];
const BATCH = 100;

/**
 * How a processor dies, once it has checkpointed `afterSaves` batches: 'checkpoint',
 * between a batch's rows and its checkpoint (every row written); 'mid-write', while a
 * batch's rows are written: its findings and drift reach the store, its events and
 * scores do not (so the probe after the restart finds none of them and the whole batch
 * is written again).
 */
interface Crash {
  afterSaves: number;
  kind: 'checkpoint' | 'mid-write';
}

/** The store as a crashing processor sees it; `dying` makes the inserts of a 'mid-write' crash fail. */
function crashingStore(store: Store, tokens: boolean, fate: { dying: boolean; died: () => void }): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'insert') {
        return async (table: string, rows: readonly Row[], options?: InsertOptions) => {
          if (fate.dying && (table === 'events' || table === 'anomaly_scores')) {
            fate.died();
            throw new Error('simulated crash before the events reached the store');
          }
          await target.insert(table, rows, tokens ? options : {});
          if (fate.dying && (table === 'findings' || table === 'drift_reports')) {
            fate.died();
            throw new Error(`simulated crash after the ${table} reached the store`);
          }
        };
      }
      if (name === 'insertAvro') {
        return async (table: string, mapping: AvroColumns, records: AvroRecords, options?: InsertOptions) => {
          if (fate.dying && records.bodies.length > 0) {
            fate.died();
            throw new Error('simulated crash before the events reached the store');
          }
          await target.insertAvro(table, mapping, records, tokens ? options : {});
        };
      }
      const value: unknown = Reflect.get(target, name, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Runs the stream through processors on a fresh database: one processor until the
 * first of `crashes`, then a new one until the next, and so on; the last runs to the end.
 */
async function run(
  database: string,
  crashes: Crash[],
  tokens: boolean,
): Promise<{ snapshot: Snapshot; resolutions: { id: string; n: string }[]; restarts: number; restored: number }> {
  const opened = await ChdbStore.open({ path: join(folder, 'chdb'), database });
  stores.push(opened);
  await migrate(opened);
  // The snapshot counts raw rows (a finding's records among them), which merges fold: none may run.
  await opened.command('SYSTEM STOP MERGES');
  // No redelivery to the crashed processor: its batch waits for the next one.
  const bus = new MemoryBus({ retryBackoff: { initialMs: 600_000, maxMs: 600_000 }, log: () => undefined });
  await bus.ensureTopics(
    [topics.events, topics.scores, topics.findings, topics.deadLetter].map((topic) => ({ topic, partitions: 2 })),
  );
  const codec = createEventCodec();
  await bus.publish(
    topics.events,
    traffic.map((e) => ({ key: eventKey(e), value: codec.encode(e) })),
  );

  const pending = [...crashes];
  let received = 0;
  let restored = 0;
  let restarts = 0;
  try {
    for (;;) {
      const crash = pending.shift();
      const crashed = Promise.withResolvers<void>();
      const fate = { dying: false, died: () => crashed.resolve() };
      const store = crashingStore(opened, tokens, fate);
      const table = new StoreStateTable(store, topics.events);
      let saves = 0;
      const state: StateBackend = {
        save: async (checkpoints) => {
          if (fate.dying) {
            fate.died();
            throw new Error('simulated crash between the rows and the checkpoint');
          }
          await table.save(checkpoints);
          if (crash !== undefined && ++saves === crash.afterSaves) {
            // The next batch's checkpoint fails ('checkpoint'), or its inserts do ('mid-write').
            if (crash.kind === 'checkpoint') fate.dying = true;
            else setImmediate(() => (fate.dying = true));
          }
        },
        load: (partitions) => table.load(partitions),
        // A batch's cut is recorded before its rows (state/cuts.ts): the crashes here come after that.
        saveCuts: (cuts) => table.saveCuts(cuts),
        loadWithCuts: (partitions) => table.loadWithCuts(partitions),
        close: () => table.close(),
      };
      const processor = new Processor({
        bus,
        store,
        topics,
        topic: topics.events,
        state,
        log: silentLogger,
        maxBatchSize: BATCH,
        concurrency: 2,
        detection: behaviourRaiser({ ...config.processor.detection, log: silentLogger }),
        analytics: config.analytics,
        drift: { watch: config.analytics.psiWatch, act: config.analytics.psiAct },
      });
      await processor.start();
      const finished = vi.waitUntil(() => received + processor.stats().received === traffic.length, {
        timeout: 120_000,
        interval: 50,
      });
      const ended = await Promise.race([
        finished.then(() => 'finished' as const),
        crashed.promise.then(() => 'crashed' as const),
      ]);
      await processor.stop();
      received += processor.stats().received;
      restored += processor.stats().restored;
      if (ended === 'finished') break;
      restarts++;
    }
  } finally {
    await bus.close();
  }
  const resolutions = await opened.query<{ id: string; n: string }>(
    "SELECT id, count() AS n FROM findings WHERE status = 'resolved' GROUP BY id ORDER BY id",
  );
  return { snapshot: await snapshot(opened, { resolutions: false }), resolutions, restarts, restored };
}

describe('exactly-once into the store through the processor (chdb)', () => {
  it('batches replayed after crashes between their rows and their checkpoint leave every table and rollup as an uninterrupted run', async () => {
    const reference = await run('ref', [], true);
    expect(reference.snapshot.events).toBe(traffic.length);
    expect(reference.snapshot.anomaly_scores).toBe(traffic.length);
    expect(reference.snapshot.findings).toBeGreaterThan(0);

    const crashes: Crash[] = [
      { afterSaves: 2, kind: 'checkpoint' },
      { afterSaves: 2, kind: 'mid-write' },
      { afterSaves: 3, kind: 'checkpoint' },
      { afterSaves: 1, kind: 'mid-write' },
    ];
    const crashed = await run('crashed', crashes, true);
    expect(crashed.restarts).toBe(crashes.length);
    expect(crashed.restored).toBeGreaterThan(0);
    expect(crashed.snapshot).toEqual(reference.snapshot);
    // Resolutions are compared apart: a restarted processor resolves some findings the
    // uninterrupted one still holds open at the end of the stream (its finding lifecycle
    // after a restore, not a double count). Each finding is resolved at most once.
    expect(crashed.resolutions.every((r) => r.n === '1')).toBe(true);
    expect(crashed.resolutions.map((r) => r.id)).toEqual(
      expect.arrayContaining(reference.resolutions.map((r) => r.id)),
    );

    // The control: the same crashes without tokens count some rows twice (the findings of a
    // batch that died mid-write, written again by its replay).
    const untokened = await run('untokened', crashes, false);
    expect(untokened.restarts).toBe(crashes.length);
    expect(untokened.snapshot).not.toEqual(reference.snapshot);
  }, 240_000);
});
