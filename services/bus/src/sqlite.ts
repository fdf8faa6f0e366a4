/**
 * The durable bus of embedded mode: the contract of a Kafka topic, as the memory bus
 * has it, kept in one SQLite database on local disk, so that what the gateway
 * answered 200 for survives kill -9 and Ctrl-C. The engine is Node's built-in
 * `node:sqlite`: it ships with the pinned Node (no native addon to build or
 * download), its transactions make a publish all-or-nothing, and its write-ahead log
 * (WAL) is crash-safe: publish resolves once its transaction is in the WAL file, where
 * it survives the process dying (with fsync 'full', also power loss).
 *
 * Records go to partitions by Kafka's key hash and get growing offsets per partition
 * that go on across restarts. Consumer groups share partitions among their members
 * (in this process) like the memory bus; their committed offsets are written to the
 * same database after each handler resolves, so a restarted group resumes where it
 * committed and gets what it had not committed again (at-least-once). Records every
 * group has committed past are deleted, beyond the newest `retainRecords`; on a
 * compacted topic each key's newest record stays.
 */
import { resolve } from 'node:path';
import { AispmError, describeError, partitionOfRecord, recordBytes } from '@aispm/core';
import { BacklogGroup, type CountFrom } from './backlog-group.ts';
import type {
  Backlog,
  Bus,
  OutgoingRecord,
  StoredTopicSpec,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from './bus.ts';
import { busClosed, invalidOption, topicMissing } from './bus-errors.ts';
import { LocalSubscription, settle } from './local-member.ts';
import { stderrBusLog, type BusLog } from './log.ts';
import type { PartitionLog } from './memory-group.ts';
import type { StoredRecord } from './memory-partition.ts';
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from './retry.ts';
import { startCheckpointer, type Checkpointer } from './sqlite-checkpointer.ts';
import { SqliteLog, type Durability } from './sqlite-log.ts';
import { checkTopicSpecs, subscribeDefaults } from './validate.ts';

export interface SqliteBusOptions {
  /** Folder of the database (the runtime passes `<dataDir>/bus`); created with mode 0700, the file 0600. */
  path: string;
  /**
   * When a commit is on disk (default 'normal'). normal: a published record survives the
   * process being killed or crashing; an OS crash or power loss can take the last commits
   * (SQLite synchronous=NORMAL in WAL mode). full: every publish and offset commit is
   * fsynced and survives power loss, at the cost of an fsync per publish.
   */
  fsync?: Durability;
  /**
   * Records per partition kept after every group has committed past them (on a topic no
   * group reads: the newest ones), so a group that subscribes later from the beginning
   * still finds recent history (default 1000). Records a group has not committed yet are
   * never dropped.
   */
  retainRecords?: number;
  /** Largest record accepted, in bytes as Kafka counts them (default 768 KiB, KafkaBus's publish limit). */
  maxRecordBytes?: number;
  /** Wait before a failed batch is delivered again (default 100 ms doubling to 5 s). */
  retryBackoff?: RetryBackoff;
  /** How often the write-ahead log is copied into the database file, off the event loop (default 1000 ms). */
  checkpointIntervalMs?: number;
  /** Receives handler failures and database trouble (default: stderr). */
  log?: BusLog;
}

const DEFAULT_MAX_RECORD_BYTES = 768 * 1024;
/** Trimming deletes a range of rows; it runs once per this many appends to a partition. */
const TRIM_EVERY = 4096;

/** Database folders open in this process: a second bus on one file would hand out offsets twice. */
const openFiles = new Set<string>();

/** One partition as its consumer groups see it: bounds kept in memory, records read from the database. */
class SqlitePartition implements PartitionLog {
  startOffset: number;
  endOffset: number;
  appendedSinceTrim = 0;
  /** Each key's newest offset; on compacted topics only. */
  readonly newest: Map<string, number> | undefined;
  readonly #read: (from: number, max: number) => StoredRecord[];

  constructor(
    bounds: { start: number; end: number },
    newest: Map<string, number> | undefined,
    read: (from: number, max: number) => StoredRecord[],
  ) {
    this.startOffset = bounds.start;
    this.endOffset = bounds.end;
    this.newest = newest;
    this.#read = read;
  }

  read(from: number, max: number): StoredRecord[] {
    return this.#read(from, max);
  }
}

/** A group whose offsets are written to the database before they count. */
class SqliteGroup extends BacklogGroup<LocalSubscription> {
  readonly #save: (partition: number, next: number) => void;
  /** Partitions whose offset is in the database. */
  readonly #saved: boolean[];

  constructor(
    partitions: readonly PartitionLog[],
    countFrom: CountFrom,
    save: (partition: number, next: number) => void,
  ) {
    super(partitions, countFrom);
    this.#save = save;
    this.#saved = partitions.map(() => false);
  }

  /** Takes an offset read from the database at open. */
  restore(partition: number, next: number): void {
    this.#saved[partition] = true;
    super.commit(partition, next);
  }

  /** Writes the offset, then takes it; a failed write leaves the batch uncommitted (delivered again). */
  override commit(partition: number, next: number): void {
    this.#save(partition, next);
    this.#saved[partition] = true;
    super.commit(partition, next);
  }

  /**
   * A group's first member fixes where it starts on each partition (the beginning, or the end
   * when fromBeginning is false); that is written at once, so a restart before the first commit
   * starts there too, and retention keeps those records meanwhile.
   */
  override join(member: LocalSubscription): void {
    super.join(member);
    for (let p = 0; p < this.#saved.length; p++) {
      const floor = this.floor(p);
      if (this.#saved[p] || floor === undefined) continue;
      this.#save(p, floor);
      this.#saved[p] = true;
    }
  }
}

interface SqliteTopic {
  id: number;
  spec: StoredTopicSpec;
  partitions: SqlitePartition[];
  groups: Map<string, SqliteGroup>;
}

export class SqliteBus implements Bus {
  readonly kind = 'sqlite';
  /** `sqlite:<uuid>`, made when the database is created and kept in it. */
  readonly logId: string;
  /** The database file. */
  readonly file: string;
  readonly #db: SqliteLog;
  readonly #folder: string;
  readonly #checkpointer: Checkpointer;
  readonly #topics = new Map<string, SqliteTopic>();
  readonly #subscriptions = new Set<LocalSubscription>();
  readonly #retain: number;
  readonly #maxRecordBytes: number;
  readonly #backoff: RetryBackoff;
  readonly #log: BusLog;
  #closing: Promise<void> | undefined;

  constructor(options: SqliteBusOptions) {
    this.#retain = options.retainRecords ?? 1000;
    if (!Number.isInteger(this.#retain) || this.#retain < 0) {
      throw invalidOption(`retainRecords is ${this.#retain}; expected a whole number of at least 0`);
    }
    this.#maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    if (!Number.isInteger(this.#maxRecordBytes) || this.#maxRecordBytes < 1) {
      throw invalidOption(`maxRecordBytes is ${this.#maxRecordBytes}; expected a whole number of at least 1`);
    }
    const fsync = options.fsync ?? 'normal';
    if (fsync !== 'normal' && fsync !== 'full') {
      throw invalidOption(`fsync is ${JSON.stringify(fsync)}; expected "normal" or "full"`);
    }
    const interval = options.checkpointIntervalMs ?? 1000;
    if (!Number.isInteger(interval) || interval < 1) {
      throw invalidOption(`checkpointIntervalMs is ${interval}; expected a whole number of at least 1`);
    }
    this.#backoff = options.retryBackoff ?? DEFAULT_RETRY_BACKOFF;
    this.#log = options.log ?? stderrBusLog;

    const folder = resolve(options.path);
    if (openFiles.has(folder)) {
      throw new AispmError(
        'bus_in_use',
        `the bus in ${folder} is already open in this process; close that bus first, or use another folder`,
      );
    }
    const db = new SqliteLog(folder, fsync);
    this.#db = db;
    this.#folder = folder;
    this.file = db.file;
    this.logId = db.logId;
    try {
      for (const { id, spec } of db.topics()) this.#addTopic(id, spec);
      const byId = new Map([...this.#topics.values()].map((t) => [t.id, t]));
      for (const c of db.commits()) {
        const t = byId.get(c.topicId);
        if (t && c.partition < t.partitions.length) this.#group(t, c.group).restore(c.partition, c.next);
      }
      // What was committed before the last stop goes now, not after the next 4096 appends.
      for (const t of this.#topics.values()) for (let p = 0; p < t.partitions.length; p++) this.#trim(t, p);
    } catch (err) {
      db.close();
      throw err;
    }
    openFiles.add(folder);
    this.#checkpointer = startCheckpointer(db.file, interval, (message) => this.#log(message, 'warn'));
  }

  ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    return settle(() => {
      this.#checkOpen();
      checkTopicSpecs(specs);
      const created: [number, StoredTopicSpec][] = [];
      const seen = new Set<string>();
      this.#db.transaction(() => {
        for (const s of specs) {
          if (this.#topics.has(s.topic) || seen.has(s.topic)) continue;
          seen.add(s.topic);
          const spec = { topic: s.topic, partitions: s.partitions, compacted: s.compacted === true };
          created.push([this.#db.createTopic(spec), spec]);
        }
      });
      for (const [id, spec] of created) this.#addTopic(id, spec);
    });
  }

  /** How a topic was created, or undefined when it does not exist. */
  describeTopic(topic: string): TopicSpec | undefined {
    const found = this.#topics.get(topic);
    return found && { ...found.spec };
  }

  publish(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    return settle(() => {
      this.#checkOpen();
      const t = this.#topic(topic);
      if (records.length === 0) return;
      for (const record of records) {
        const bytes = recordBytes(record);
        if (bytes > this.#maxRecordBytes) throw recordTooLarge(topic, bytes, this.#maxRecordBytes);
      }
      const n = t.partitions.length;
      const timestamp = Date.now();
      const next = t.partitions.map((p) => p.endOffset);
      const partitions = new Uint32Array(records.length);
      try {
        this.#db.transaction(() => {
          for (let i = 0; i < records.length; i++) {
            const r = records[i]!;
            const p = (partitions[i] = partitionOfRecord(r, n));
            const headers = r.headers && hasAny(r.headers) ? JSON.stringify(r.headers) : null;
            this.#db.insert(t.id, p, next[p]!++, r.key, r.value, headers, timestamp);
          }
        });
      } catch (err) {
        throw new AispmError(
          'bus_publish_failed',
          `publishing ${records.length} records to ${topic} in ${this.file} failed: ${describeError(err)}; ` +
            'none of them are stored, so publish them again once the cause (such as a full disk) is fixed',
          { cause: err },
        );
      }
      // Committed: only now do consumers and counters see the records.
      const added = t.partitions.map(() => ({ records: 0, bytes: 0 }));
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        const p = partitions[i]!;
        const part = t.partitions[p]!;
        part.newest?.set(r.key, part.endOffset);
        part.endOffset++;
        added[p]!.records++;
        added[p]!.bytes += r.value.length;
      }
      for (let p = 0; p < n; p++) {
        const sum = added[p]!;
        if (sum.records === 0) continue;
        const part = t.partitions[p]!;
        part.appendedSinceTrim += sum.records;
        if (part.appendedSinceTrim >= TRIM_EVERY) this.#trim(t, p);
        for (const group of t.groups.values()) {
          group.appended(p, sum.records, sum.bytes);
          group.wake(p);
        }
      }
    });
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return settle(() => {
      this.#checkOpen();
      const resolved = subscribeDefaults(options);
      const t = this.#topic(resolved.topic);
      const subscription = new LocalSubscription(this.#group(t, resolved.group), resolved, {
        backoff: this.#backoff,
        log: this.#log,
        onStopped: () => this.#subscriptions.delete(subscription),
      });
      this.#subscriptions.add(subscription);
      return subscription;
    });
  }

  backlog(topic: string, group: string): Backlog {
    return this.#topic(topic).groups.get(group)?.backlog() ?? { records: 0, bytes: 0 };
  }

  /** Stops the subscriptions (their in-flight batches finish and commit), checkpoints the WAL and closes the file. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((s) => s.stop()));
      await this.#checkpointer.stop();
      openFiles.delete(this.#folder);
      this.#db.close();
    })();
    return this.#closing;
  }

  #addTopic(id: number, spec: StoredTopicSpec): void {
    const partitions = Array.from(
      { length: spec.partitions },
      (_, p) =>
        new SqlitePartition(
          this.#db.bounds(id, p),
          spec.compacted ? this.#db.newestPerKey(id, p) : undefined,
          (from, max) => this.#db.read(id, p, from, max),
        ),
    );
    this.#topics.set(spec.topic, { id, spec, partitions, groups: new Map() });
  }

  #group(t: SqliteTopic, name: string): SqliteGroup {
    let group = t.groups.get(name);
    if (!group) {
      group = new SqliteGroup(
        t.partitions,
        (p, offset) => this.#db.countFrom(t.id, p, offset),
        (p, next) => this.#db.commit(t.id, name, p, next),
      );
      t.groups.set(name, group);
    }
    return group;
  }

  #topic(topic: string): SqliteTopic {
    const found = this.#topics.get(topic);
    if (!found) throw topicMissing(topic);
    return found;
  }

  #checkOpen(): void {
    if (this.#closing) throw busClosed(this.kind);
  }

  /** Deletes what every group has committed, beyond the newest `retainRecords` (and each key's newest when compacted). */
  #trim(t: SqliteTopic, p: number): void {
    const part = t.partitions[p]!;
    part.appendedSinceTrim = 0;
    let below = part.endOffset - this.#retain;
    for (const group of t.groups.values()) below = Math.min(below, group.floor(p) ?? below);
    if (below <= part.startOffset) return;
    const keep = part.newest && [...part.newest.values()].filter((offset) => offset < below);
    try {
      part.startOffset = this.#db.trim(t.id, p, below, part.endOffset, keep);
    } catch (err) {
      // The publish is committed; the rows stay until the next trim.
      this.#log(`trimming ${t.spec.topic}[${p}] below offset ${below} failed: ${describeError(err)}`, 'warn');
    }
  }
}

function hasAny(headers: Record<string, string>): boolean {
  for (const _ in headers) return true;
  return false;
}

function recordTooLarge(topic: string, bytes: number, max: number): AispmError {
  return new AispmError(
    'bus_record_too_large',
    `a record of ${bytes} bytes for ${topic} is over the ${max}-byte limit of the embedded bus; shrink it, ` +
      'or raise maxRecordBytes (a Kafka deployment also needs the brokers’ message.max.bytes raised)',
  );
}
