import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BusRecord, OutgoingRecord } from './bus.ts';
import { busContract } from './bus.contract.ts';
import { MemoryBus } from './memory.ts';
import { SqliteBus, type SqliteBusOptions } from './sqlite.ts';

const folders: string[] = [];
function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'aispm-sqlite-bus-'));
  folders.push(folder);
  return folder;
}
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

busContract({
  name: 'sqlite',
  create: () => Promise.resolve(new SqliteBus({ path: tempFolder(), log: () => undefined })),
  // Read back from the file on a connection of its own, not through the bus under test.
  describeTopic: (bus, topic) => {
    const db = new DatabaseSync(bus.file, { readOnly: true });
    try {
      const row = db.prepare('SELECT partitions, compacted FROM topics WHERE name = ?').get(topic);
      return Promise.resolve(row && { partitions: Number(row.partitions), compacted: row.compacted === 1 });
    } finally {
      db.close();
    }
  },
});

describe('SqliteBus', () => {
  const quiet = { log: () => undefined };
  const open = (path: string, options: Partial<SqliteBusOptions> = {}) => new SqliteBus({ path, ...quiet, ...options });

  it('keeps published records and committed offsets across close and reopen, and redelivers what was not committed', async () => {
    const path = tempFolder();
    let bus = open(path);
    await bus.ensureTopics([{ topic: 't', partitions: 2 }]);
    await bus.publish('t', numbered(0, 10, ['a', 'b']));
    const first = collect();
    let seen = 0;
    const sub = await bus.subscribe({
      topic: 't',
      group: 'g',
      maxBatchSize: 3,
      handler: async (batch) => {
        // The first six records (two full batches) commit; the rest fail and stay uncommitted.
        if (seen >= 6) throw new Error('not now');
        seen += batch.records.length;
        await first.handler(batch);
      },
    });
    await first.until(6);
    await sub.stop();
    const logId = bus.logId;
    await bus.close();

    bus = open(path);
    expect(bus.logId).toBe(logId);
    expect(bus.logId).toMatch(/^sqlite:[0-9a-f-]{36}$/);
    expect(bus.describeTopic('t')).toEqual({ topic: 't', partitions: 2, compacted: false });
    const again = collect();
    await bus.subscribe({ topic: 't', group: 'g', handler: again.handler });
    await again.until(4);
    await sleep(50);
    const committed = new Set(first.records.map(id));
    expect(again.records.map(id).filter((r) => committed.has(r))).toEqual([]);
    expect(new Set([...first.records, ...again.records].map((r) => r.value.toString()))).toEqual(
      new Set(range(0, 10).map((i) => `r${i}`)),
    );
    // Offsets go on from where they were.
    await bus.publish('t', numbered(10, 2, ['a', 'b']));
    await again.until(6);
    const late = again.records.slice(4);
    for (const r of late) expect(Number(r.offset)).toBeGreaterThanOrEqual(5);
    await bus.close();
  });

  it('starts a new group at the end when fromBeginning is false, and keeps that start across a reopen', async () => {
    const path = tempFolder();
    let bus = open(path);
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish('t', numbered(0, 5));
    const sub = await bus.subscribe({ topic: 't', group: 'g', fromBeginning: false, handler: () => Promise.resolve() });
    await sub.stop();
    await bus.publish('t', numbered(5, 2)); // published after the group started, before any commit
    await bus.close();

    bus = open(path);
    const got = collect();
    await bus.subscribe({ topic: 't', group: 'g', fromBeginning: false, handler: got.handler });
    await got.until(2);
    expect(got.records.map((r) => r.value.toString())).toEqual(['r5', 'r6']);
    await bus.close();
  });

  it('loses nothing a killed process saw published', async () => {
    const path = tempFolder();
    const script = join(tempFolder(), 'publisher.ts');
    const busModule = fileURLToPath(new URL('./sqlite.ts', import.meta.url));
    writeFileSync(
      script,
      `import { SqliteBus } from ${JSON.stringify(busModule)};
const bus = new SqliteBus({ path: ${JSON.stringify(path)} });
await bus.ensureTopics([{ topic: 't', partitions: 3 }]);
// A group that never commits: retention keeps everything for it.
await bus.subscribe({ topic: 't', group: 'g', handler: () => new Promise(() => {}) });
for (let n = 0; ; ) {
  const records = [];
  for (let i = 0; i < 50; i++, n++) records.push({ key: 'k' + (n % 7), value: Buffer.from('r' + n) });
  await bus.publish('t', records);
  process.stdout.write('published ' + n + '\\n');
}
`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let reported = 0;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`the publisher exited early (${code}): ${output.slice(-200)}`)));
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const lines = output.split('\n');
        output = lines.pop()!;
        for (const line of lines) reported = Number(line.split(' ')[1]);
        if (reported >= 5000) {
          child.removeAllListeners('exit');
          child.kill('SIGKILL');
          child.on('exit', () => resolve());
        }
      });
    });

    const bus = open(path);
    const got = collect();
    await bus.subscribe({ topic: 't', group: 'g', handler: got.handler });
    await got.until(reported);
    await sleep(20);
    const values = new Set(got.records.map((r) => r.value.toString()));
    const missing = range(0, reported).filter((n) => !values.has(`r${n}`));
    expect(missing).toEqual([]);
    await bus.close();
  }, 30_000);

  it("keeps each key's newest record of a compacted topic, across a reopen", async () => {
    const path = tempFolder();
    let bus = open(path, { retainRecords: 0 });
    await bus.ensureTopics([{ topic: 'state', partitions: 1, compacted: true }]);
    const keys = range(0, 10).map((i) => `entity-${i}`);
    const reader = collect();
    const sub = await bus.subscribe({ topic: 'state', group: 'reader', handler: reader.handler });
    await bus.publish(
      'state',
      range(0, 5000).map((i) => ({ key: keys[i % 10]!, value: Buffer.from(`v${i}`) })),
    );
    await reader.until(5000);
    await sub.stop();
    await bus.publish('state', [{ key: 'other', value: Buffer.from('o') }]); // enough appends to trim
    await bus.close();

    bus = open(path, { retainRecords: 0 });
    const restore = collect();
    await bus.subscribe({ topic: 'state', group: 'restore', handler: restore.handler });
    await restore.until(11);
    await sleep(50);
    expect(restore.records.map((r) => [r.key, r.value.toString()])).toEqual([
      ...keys.map((k, i) => [k, `v${4990 + i}`]),
      ['other', 'o'],
    ]);
    await bus.close();
  });

  it('counts the backlog up on publish and down on commit, and again after a reopen', async () => {
    const path = tempFolder();
    let bus = open(path);
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    expect(bus.backlog('t', 'g')).toEqual({ records: 0, bytes: 0 }); // a group it has not seen
    expect(() => bus.backlog('missing', 'g')).toThrow(expect.objectContaining({ code: 'bus_topic_missing' }));
    const sizes = range(0, 10).map((i) => 100 + i);
    await bus.publish(
      't',
      sizes.map((size) => ({ key: 'k', value: Buffer.alloc(size) })),
    );
    const bytesFrom = (offset: number) => sizes.slice(offset).reduce((sum, size) => sum + size, 0);
    const release = Promise.withResolvers<void>();
    let calls = 0;
    await bus.subscribe({
      topic: 't',
      group: 'g',
      maxBatchSize: 4,
      handler: async () => {
        if (++calls === 2) await release.promise;
      },
    });
    // The first batch (0-3) is committed once the second (4-7) is in the handler.
    await eventually(() => calls === 2);
    expect(bus.backlog('t', 'g')).toEqual({ records: 6, bytes: bytesFrom(4) });
    await bus.publish('t', [{ key: 'k', value: Buffer.alloc(7) }]);
    expect(bus.backlog('t', 'g')).toEqual({ records: 7, bytes: bytesFrom(4) + 7 });
    const closing = bus.close(); // lets the batch in flight finish and commit
    release.resolve();
    await closing;
    expect(bus.backlog('t', 'g')).toEqual({ records: 3, bytes: bytesFrom(8) + 7 });

    bus = open(path);
    expect(bus.backlog('t', 'g')).toEqual({ records: 3, bytes: bytesFrom(8) + 7 });
    await bus.subscribe({ topic: 't', group: 'g', handler: () => Promise.resolve() });
    await eventually(() => bus.backlog('t', 'g').records === 0);
    expect(bus.backlog('t', 'g')).toEqual({ records: 0, bytes: 0 });
    await bus.close();
  });

  it('the memory bus counts its backlog the same way', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 2 }]);
    expect(bus.backlog('t', 'g')).toEqual({ records: 0, bytes: 0 });
    await bus.publish('t', [{ key: 'a', value: Buffer.alloc(10) }]);
    const release = Promise.withResolvers<void>();
    let calls = 0;
    await bus.subscribe({
      topic: 't',
      group: 'g',
      handler: async () => {
        if (++calls === 2) await release.promise;
      },
    });
    await eventually(() => bus.backlog('t', 'g').records === 0);
    await bus.publish('t', [
      { key: 'a', value: Buffer.alloc(20) },
      { key: 'b', value: Buffer.alloc(30) },
    ]);
    expect(bus.backlog('t', 'g')).toEqual({ records: 2, bytes: 50 });
    await eventually(() => calls === 2);
    release.resolve();
    await eventually(() => bus.backlog('t', 'g').records === 0);
    expect(bus.backlog('t', 'g')).toEqual({ records: 0, bytes: 0 });
    await bus.close();
  });

  it('deletes records every group has committed, beyond retainRecords, and never uncommitted ones', async () => {
    const path = tempFolder();
    let bus = open(path, { retainRecords: 100 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const reader = collect();
    const readerSub = await bus.subscribe({ topic: 't', group: 'reader', handler: reader.handler });
    let failing = true;
    const stuck = collect();
    const stuckSub = await bus.subscribe({
      topic: 't',
      group: 'stuck',
      maxBatchSize: 500,
      handler: async (batch) => {
        if (failing && Number(batch.records[0]!.offset) >= 1000) throw new Error('down');
        await stuck.handler(batch);
      },
    });
    await bus.publish('t', numbered(0, 5000));
    await reader.until(5000);
    await stuck.until(1000);
    await readerSub.stop();
    await stuckSub.stop();
    await bus.publish('t', numbered(5000, 5000)); // triggers trims
    await bus.close();

    expect(countRows(path)).toBe(10_000 - 1000); // the stuck group has committed only 0-999

    bus = open(path, { retainRecords: 100 });
    failing = false;
    const recovered = collect();
    await bus.subscribe({ topic: 't', group: 'stuck', handler: recovered.handler });
    await recovered.until(9000);
    expect(recovered.records[0]!.offset).toBe('1000');
    const resumed = collect();
    await bus.subscribe({ topic: 't', group: 'reader', handler: resumed.handler });
    await resumed.until(5000);
    await bus.publish('t', numbered(10_000, 5000));
    await recovered.until(14_000);
    await resumed.until(10_000);
    await bus.close();
    // Both groups committed everything; opening trims at once, to the newest retainRecords.
    await open(path, { retainRecords: 100 }).close();
    expect(countRows(path)).toBe(100);
  }, 30_000);

  it('refuses a record over maxRecordBytes, and the whole publish with it', async () => {
    const path = tempFolder();
    const bus = open(path, { maxRecordBytes: 1024 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const publish = bus.publish('t', [
      { key: 'k', value: Buffer.alloc(10) },
      { key: 'k', value: Buffer.alloc(2000) },
    ]);
    await expect(publish).rejects.toMatchObject({ code: 'bus_record_too_large' });
    await expect(publish).rejects.toThrow(/over the 1024-byte limit/);
    await bus.close();
    expect(countRows(path)).toBe(0);
  });

  it('creates its folder 0700 and file 0600, refuses a second bus on the same folder, and closes twice', async () => {
    const path = join(tempFolder(), 'bus');
    const bus = open(path, { fsync: 'full' });
    expect(statSync(path).mode & 0o777).toBe(0o700);
    expect(statSync(bus.file).mode & 0o777).toBe(0o600);
    expect(() => open(path)).toThrow(expect.objectContaining({ code: 'bus_in_use' }));
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish('t', numbered(0, 3));
    await bus.close();
    await bus.close();
    expect(statSync(`${bus.file}-wal`, { throwIfNoEntry: false })?.size ?? 0).toBe(0);
    expect(() => open(path, { fsync: 'always' as never })).toThrow(
      expect.objectContaining({ code: 'bus_invalid_option' }),
    );
    const reopened = open(path);
    expect(reopened.describeTopic('t')).toEqual({ topic: 't', partitions: 1, compacted: false });
    await reopened.close();
  });
});

async function eventually(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await sleep(5);
  }
}

function countRows(path: string): number {
  const db = new DatabaseSync(join(path, 'bus.sqlite'), { readOnly: true });
  try {
    return Number(db.prepare('SELECT count(*) AS n FROM records').get()!.n);
  } finally {
    db.close();
  }
}

function id(r: BusRecord): string {
  return `${r.partition}/${r.offset}`;
}

function collect() {
  const records: BusRecord[] = [];
  const waiters = new Set<() => void>();
  return {
    records,
    handler: (batch: { records: BusRecord[] }) => {
      records.push(...batch.records);
      for (const check of waiters) check();
      return Promise.resolve();
    },
    until: (count: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${count} records (${records.length} so far)`)),
          10_000,
        );
        const check = () => {
          if (records.length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

function numbered(from: number, count: number, keys = ['k']): OutgoingRecord[] {
  return range(from, count).map((i) => ({ key: keys[i % keys.length]!, value: Buffer.from(`r${i}`) }));
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}
