import { setTimeout as sleep } from 'node:timers/promises';
import type {
  Admin,
  Consumer,
  EachBatchPayload,
  ICustomPartitioner,
  IHeaders,
  Kafka,
  KafkaMessage,
  Producer,
} from 'kafkajs';
import { CONFIG_KEYS, AispmError, describeError, partitionForKey, publishChunks, recordBytes } from '@aispm/core';
import type { Backlog, Bus, BusRecord, OutgoingRecord, SubscribeOptions, Subscription, TopicSpec } from './bus.ts';
import { busClosed, commitOffset, commitRefused, notManual, topicMissing } from './bus-errors.ts';
import { kafkajsLogCreator } from './kafka-log.ts';
import { kafkajs, verifyKafkajsFixes } from './kafkajs.ts';
import { handlerFailed, stderrBusLog, type BusLog } from './log.ts';
import { DEFAULT_RETRY_BACKOFF, retryDelayMs, type RetryBackoff } from './retry.ts';
import { checkTopicSpecs, subscribeDefaults } from './validate.ts';

/** Consumer group timing and fetch size. The defaults suit production; tests shorten the timing to rebalance in well under a second. */
export interface KafkaConsumerTiming {
  /** The broker drops a member it has not heard from for this long (default 30000; brokers allow 6000 and up). */
  sessionTimeoutMs?: number;
  /** How often a member tells the broker it is alive, also while a handler runs (default 3000, at most a third of the session timeout). */
  heartbeatIntervalMs?: number;
  /** How long a rebalance waits for members to finish their batches and rejoin (default 60000). */
  rebalanceTimeoutMs?: number;
  /** Longest a fetch waits for new records; bounds how long stop() waits for an idle member (default 1000). */
  maxWaitTimeMs?: number;
  /**
   * Most bytes one fetch takes from a partition (default 4 MiB, kafkajs's is 1 MiB).
   * With a backlog this sets the batch size, up to maxBatchSize: at 1 MiB the
   * processor got ~2,300 events per batch, and each batch pays fixed costs (a store
   * part per table, produce requests, a checkpoint, a commit).
   */
  maxBytesPerPartition?: number;
}

export interface KafkaBusOptions {
  /** Bootstrap brokers, host:port. */
  brokers: string[];
  /** Client id the broker logs and quotas see (default "aispm"). */
  clientId?: string;
  /** Receives kafkajs warnings and errors, and handler failures (default: stderr). */
  log?: BusLog;
  /** Wait before a failed batch is delivered again (default 100 ms doubling to 5 s). */
  retryBackoff?: RetryBackoff;
  /**
   * Retries of a failed connection or admin request, with backoff from 300 ms (default 5,
   * about 10 s in all). Publishing is not limited by it: the idempotent producer retries
   * until the brokers acknowledge, so a publish waits out a broker outage.
   */
  retries?: number;
  consumer?: KafkaConsumerTiming;
  /**
   * Most bytes one produce request carries (default 768 KiB); larger publishes go in
   * several. Keep it under the brokers' message.max.bytes (1 MiB by default), which
   * they enforce per partition batch.
   */
  maxRequestBytes?: number;
}

const DEFAULT_MAX_REQUEST_BYTES = 768 * 1024;
/** How old a backlog figure may be before backlog() asks the brokers again (in the background). */
const BACKLOG_REFRESH_MS = 1000;
/** Topic/group pairs whose backlog is kept: a few per process in practice. */
const MAX_BACKLOGS = 64;

interface LagEntry {
  value: Backlog;
  at: number;
  refreshing: boolean;
}

const CLEANUP_POLICY = 'cleanup.policy';
const RETENTION_MS = 'retention.ms';

/**
 * The distributed-mode bus: Apache Kafka through kafkajs. One idempotent producer
 * (acks from all in-sync replicas, keys partitioned by murmur2 like the Java client)
 * and one admin client per bus; one consumer, a consumer-group member, per
 * subscription. Offsets are committed by hand after each handler call succeeds (on-return),
 * or when the subscriber calls commit() (manual).
 * The bus connects on first use (in practice the ensureTopics at start-up); when the
 * brokers cannot be reached, that call fails with an AispmError saying what to check.
 */
export class KafkaBus implements Bus {
  readonly kind = 'kafka';
  readonly #options: KafkaBusOptions;
  readonly #kafka: Kafka;
  readonly #producer: Producer;
  readonly #admin: Admin;
  /** Topics known to exist, so publish and subscribe check the broker once per topic. */
  readonly #known = new Set<string>();
  readonly #subscriptions = new Set<KafkaSubscription>();
  /** Group lag per topic and group, refreshed in the background (backlog()). */
  readonly #lags = new Map<string, LagEntry>();
  /** Value bytes and records this bus published per topic, for the bytes estimate of a lag. */
  readonly #published = new Map<string, { records: number; bytes: number }>();
  #connecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: KafkaBusOptions) {
    this.#options = options;
    // Start-up fails here, clearly, rather than running on a kafkajs the fixes did not reach.
    verifyKafkajsFixes();
    this.#kafka = new kafkajs.Kafka({
      brokers: options.brokers,
      clientId: options.clientId ?? 'aispm',
      logLevel: kafkajs.logLevel.WARN,
      logCreator: kafkajsLogCreator(options.log ?? stderrBusLog),
      ...(options.retries === undefined ? {} : { retry: { retries: options.retries } }),
    });
    this.#producer = this.#kafka.producer({
      idempotent: true,
      // Keys land where the Java client (and kafkajs's DefaultPartitioner) puts them, without its slow hashing.
      createPartitioner: murmur2Partitioner,
      allowAutoTopicCreation: false,
      // An idempotent producer may only retry without limit; a lower client-wide `retries` must not reach it.
      retry: { retries: Number.MAX_SAFE_INTEGER },
    });
    this.#admin = this.#kafka.admin();
  }

  /**
   * Creates the missing topics and returns once every one of them has a leader for
   * each partition. Safe when other processes create the same topics at the same
   * moment: a topic someone else created first counts as created, and a topic that
   * exists but whose metadata has not reached the broker yet is waited for.
   */
  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    checkTopicSpecs(specs);
    await this.#connect();
    const unique = specs.filter((s, i) => specs.findIndex((o) => o.topic === s.topic) === i);
    if (unique.length === 0) return;
    const existing = new Set(await this.#request('listing topics', () => this.#admin.listTopics()));
    const missing = unique.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      try {
        // kafkajs's own wait for leaders gives up on the first "unknown topic" from a lagging broker; #awaitReady does not.
        await this.#admin.createTopics({
          waitForLeaders: false,
          topics: missing.map((s) => ({
            topic: s.topic,
            numPartitions: s.partitions,
            configEntries: [
              ...(s.compacted ? [{ name: CLEANUP_POLICY, value: 'compact' }] : []),
              ...(s.retentionMs === undefined ? [] : [{ name: RETENTION_MS, value: String(s.retentionMs) }]),
            ],
          })),
        });
      } catch (err) {
        // Topics another process created meanwhile are no error: kafkajs resolves when all that failed already exist.
        throw new AispmError(
          'kafka_topic_create_failed',
          `creating topics ${missing.map((s) => s.topic).join(', ')} on ${this.#brokers()} failed: ` +
            `${rootMessage(err)}; check that this client may create topics (ACLs) and that the brokers accept ` +
            'the partition counts',
          { cause: err },
        );
      }
    }
    await this.#awaitReady(unique.map((s) => s.topic));
    for (const spec of unique) this.#known.add(spec.topic);
  }

  /**
   * Polls the topics' metadata until each has partitions that all have a leader that
   * serves them, with backoff (50 ms doubling to 1 s, about 12 s in all). A topic just
   * created, by this process or another, may be unknown or leaderless on a broker for a moment.
   */
  async #awaitReady(topics: readonly string[]): Promise<void> {
    const attempts = 16;
    let waiting = [...topics];
    let last = 'no answer yet';
    for (let attempt = 0; ; attempt++) {
      try {
        const { topics: metadata } = await this.#admin.fetchTopicMetadata({ topics: waiting });
        waiting = waiting.filter((topic) => {
          const partitions = metadata.find((t) => t.name === topic)?.partitions ?? [];
          return !(partitions.length > 0 && partitions.every((p) => p.partitionErrorCode === 0 && p.leader >= 0));
        });
        last = `${waiting.join(', ')} without a leader for every partition`;
        if (waiting.length === 0) {
          // A broker names itself leader in its metadata a moment before it serves the partition:
          // every partition answering for its offsets proves it does (a restore's first request).
          waiting = [...topics];
          last = `${waiting.join(', ')} not served by every partition's leader yet`;
          await Promise.all(topics.map((topic) => this.#admin.fetchTopicOffsets(topic)));
          waiting = [];
        }
      } catch (err) {
        // Unknown topic or leader not available while the brokers catch up: ask again.
        last = rootMessage(err);
      }
      if (waiting.length === 0) return;
      if (attempt + 1 >= attempts) break;
      await sleep(retryDelayMs(attempt + 1, { initialMs: 50, maxMs: 1000 }));
    }
    throw new AispmError(
      'kafka_topic_not_ready',
      `topics ${waiting.join(', ')} on ${this.#brokers()} exist but did not become usable after ${attempts} ` +
        `attempts (${last}); check that the brokers are healthy and can elect leaders`,
    );
  }

  async publish(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    await this.#connect();
    await this.#requireTopic(topic);
    if (records.length === 0) return;
    const maxBytes = this.#options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    const chunks = publishChunks(records, maxBytes);
    const oversized = chunks.find((c) => c.length === 1 && recordBytes(c[0]!) > maxBytes);
    if (oversized)
      throw new AispmError(
        'kafka_record_too_large',
        `a record of ${recordBytes(oversized[0]!)} bytes for ${topic} is over the ${maxBytes}-byte publish limit; ` +
          "shrink it, or raise maxRequestBytes together with the brokers' message.max.bytes",
      );
    const sent = this.#published.get(topic) ?? { records: 0, bytes: 0 };
    this.#published.set(topic, sent);
    for (const r of records) {
      sent.records++;
      sent.bytes += r.value.length;
    }
    try {
      // One chunk after another: the idempotent producer keeps their order per partition.
      for (const chunk of chunks)
        await this.#producer.send({
          topic,
          acks: -1,
          messages: chunk.map((r) => ({
            key: r.key,
            value: r.value,
            headers: r.headers ?? {},
            partition: r.partition,
          })),
        });
    } catch (err) {
      throw new AispmError(
        'kafka_publish_failed',
        `publishing ${records.length} records to ${topic} on ${this.#brokers()} failed: ${rootMessage(err)}; ` +
          'they may not be stored, so publish them again once the cause is fixed',
        { cause: err },
      );
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const resolved = subscribeDefaults(options);
    await this.#connect();
    await this.#requireTopic(resolved.topic);
    const subscription = new KafkaSubscription(this.#kafka, resolved, {
      timing: this.#options.consumer ?? {},
      backoff: this.#options.retryBackoff ?? DEFAULT_RETRY_BACKOFF,
      log: this.#options.log ?? stderrBusLog,
      brokers: this.#options.brokers,
      onStopped: () => this.#subscriptions.delete(subscription),
    });
    this.#subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (err) {
      await subscription.stop();
      throw err;
    }
    return subscription;
  }

  /**
   * The group's lag on the topic as last read from the brokers (end offsets minus the
   * group's committed offsets), at most BACKLOG_REFRESH_MS old plus one round trip: a
   * stale figure starts a refresh in the background and is returned meanwhile. A group
   * that has committed nothing has no backlog (as on the embedded buses). Bytes are an
   * estimate: the records times the mean value size this bus has published to the topic.
   */
  backlog(topic: string, group: string): Backlog {
    const id = `${topic}\u0000${group}`;
    let entry = this.#lags.get(id);
    if (!entry) {
      if (this.#lags.size >= MAX_BACKLOGS) this.#lags.delete(this.#lags.keys().next().value!);
      entry = { value: { records: 0, bytes: 0 }, at: 0, refreshing: false };
      this.#lags.set(id, entry);
    }
    if (!entry.refreshing && Date.now() - entry.at >= BACKLOG_REFRESH_MS && !this.#closing) {
      const refreshed = entry;
      refreshed.refreshing = true;
      void this.#lag(topic, group)
        .then((records) => {
          const sent = this.#published.get(topic);
          const mean = sent && sent.records > 0 ? sent.bytes / sent.records : 0;
          refreshed.value = { records, bytes: Math.round(records * mean) };
        })
        .catch(() => undefined)
        .finally(() => {
          refreshed.at = Date.now();
          refreshed.refreshing = false;
        });
    }
    return { ...entry.value };
  }

  async #lag(topic: string, group: string): Promise<number> {
    await this.#connect();
    // Asking the brokers for a missing topic's offsets ties up the admin client in retries (readiness included).
    await this.#requireTopic(topic);
    const [ends, committed] = await Promise.all([
      this.#admin.fetchTopicOffsets(topic),
      this.#admin.fetchOffsets({ groupId: group, topics: [topic] }),
    ]);
    const at = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    // A group that has committed nowhere is not reading yet; one that has, owes every partition from its start.
    if (![...at.values()].some((offset) => offset >= 0n)) return 0;
    let lag = 0n;
    for (const end of ends) {
      const done = at.get(end.partition) ?? -1n;
      // The two answers are not one snapshot (and a restarted broker reports its end late): never below 0.
      const behind = BigInt(end.high) - (done >= 0n ? done : BigInt(end.low));
      if (behind > 0n) lag += behind;
    }
    return Number(lag);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((s) => s.stop()));
      await this.#connecting?.catch(() => undefined);
      await Promise.all([this.#producer.disconnect(), this.#admin.disconnect()]);
    })();
    return this.#closing;
  }

  /** Connects the producer and admin client once; a failed attempt is retried by the next call. */
  #connect(): Promise<void> {
    if (this.#closing) return Promise.reject(busClosed(this.kind));
    this.#connecting ??= Promise.all([this.#producer.connect(), this.#admin.connect()]).then(
      () => undefined,
      async (err: unknown) => {
        this.#connecting = undefined;
        await Promise.allSettled([this.#producer.disconnect(), this.#admin.disconnect()]);
        throw unreachable(this.#options.brokers, err);
      },
    );
    return this.#connecting;
  }

  async #requireTopic(topic: string): Promise<void> {
    if (this.#known.has(topic)) return;
    const topics = await this.#request('listing topics', () => this.#admin.listTopics());
    if (!topics.includes(topic)) throw topicMissing(topic);
    this.#known.add(topic);
  }

  async #request<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw new AispmError('kafka_request_failed', `${what} on ${this.#brokers()} failed: ${rootMessage(err)}`, {
        cause: err,
      });
    }
  }

  #brokers(): string {
    return this.#options.brokers.join(', ');
  }
}

interface SubscriptionContext {
  timing: KafkaConsumerTiming;
  backoff: RetryBackoff;
  log: BusLog;
  brokers: string[];
  onStopped: () => void;
}

/**
 * What a lingering fetch waits for at most, across its partitions: so much that at
 * the pipeline's rates lingerMs, not size, ends the wait, and the batches are as
 * full as maxBatchSize lets them be.
 */
const LINGER_MIN_BYTES = 8 * 1024 * 1024;
/** Backoff of a member's rejoins after kafkajs gave up: doubling from the first to the cap. */
const REJOIN_FIRST_MS = 1000;
const REJOIN_MAX_MS = 30_000;

/** One consumer-group member. */
class KafkaSubscription implements Subscription {
  readonly #consumer: Consumer;
  readonly #options: Required<SubscribeOptions>;
  readonly #context: SubscriptionContext;
  readonly #heartbeatMs: number;
  #assignment: number[] = [];
  /** Consecutive failures per partition, for the backoff. */
  readonly #failures = new Map<number, number>();
  /** Timers that resume partitions paused after a failure. */
  readonly #resumeTimers = new Set<NodeJS.Timeout>();
  /**
   * Manual commit, per partition this member owns: `handed` is the offset after the last
   * record handed to the handler; `floor` the group's commit as this member knows it (the
   * first offset fetched since the partition was assigned, or its own commits since).
   * Kept across a rebalance for partitions this member keeps; dropped for those it loses.
   */
  readonly #progress = new Map<number, { handed: bigint; floor: bigint | undefined }>();
  #stopping: Promise<void> | undefined;
  /** On-return commit: offsets past the group's commit whose commit failed, per partition, and their retry. */
  readonly #unsaved = new Map<number, bigint>();
  #unsavedTimer: NodeJS.Timeout | undefined;
  /** Batches' commits in flight, which the retry above waits for. */
  #batchCommits = 0;
  /** Rejoins tried since the member last crashed, and the next one's timer. */
  #rejoins = 0;
  #rejoinTimer: NodeJS.Timeout | undefined;

  constructor(kafka: Kafka, options: Required<SubscribeOptions>, context: SubscriptionContext) {
    this.#options = options;
    this.#context = context;
    const timing = context.timing;
    const sessionTimeoutMs = timing.sessionTimeoutMs ?? 30_000;
    // Three heartbeats per session at least, so one lost heartbeat does not cost the membership.
    this.#heartbeatMs = timing.heartbeatIntervalMs ?? Math.min(3000, Math.floor(sessionTimeoutMs / 3));
    this.#consumer = kafka.consumer({
      groupId: options.group,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: this.#heartbeatMs,
      rebalanceTimeout: timing.rebalanceTimeoutMs ?? 60_000,
      // Lingering: the broker holds each fetch until lingerMs passes or LINGER_MIN_BYTES are there.
      maxWaitTimeInMs: options.lingerMs > 0 ? options.lingerMs : (timing.maxWaitTimeMs ?? 1000),
      minBytes: options.lingerMs > 0 ? LINGER_MIN_BYTES : 1,
      maxBytesPerPartition: timing.maxBytesPerPartition ?? 4 * 1024 * 1024,
      allowAutoTopicCreation: false,
    });
    const { GROUP_JOIN, CRASH } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, ({ payload }) => {
      if (this.#stopping) return;
      this.#assignment = [...(payload.memberAssignment[options.topic] ?? [])].sort((a, b) => a - b);
      // kafkajs reads every partition again from the group's commit after a rebalance, and another
      // member may have committed meanwhile: the floor is learned again from the next fetch.
      for (const [partition, progress] of this.#progress) {
        if (this.#assignment.includes(partition)) progress.floor = undefined;
        else this.#progress.delete(partition);
      }
    });
    this.#consumer.on(CRASH, ({ payload }) => {
      if (payload.restart || this.#stopping) return;
      this.#assignment = [];
      this.#progress.clear();
      // kafkajs gives up for good on errors it calls non-retriable, among them a broker that stays
      // away past its retries ("Failed to find group coordinator"). A member that idles alive would
      // stall its partitions unseen: it rejoins with backoff until it is back or stopped.
      this.#rejoinLater(`${rootMessage(payload.error)}`);
    });
  }

  #rejoinLater(why: string): void {
    const attempt = (this.#rejoins += 1);
    const delayMs = Math.min(REJOIN_MAX_MS, REJOIN_FIRST_MS * 2 ** Math.min(attempt - 1, 10));
    const { group, topic } = this.#options;
    this.#context.log(
      `member of group ${group} on ${topic} stopped after an error kafkajs does not retry: ${why}; ` +
        `rejoining in ${delayMs} ms (attempt ${attempt})`,
      'error',
    );
    this.#rejoinTimer = setTimeout(() => void this.#rejoin(), delayMs);
  }

  async #rejoin(): Promise<void> {
    this.#rejoinTimer = undefined;
    if (this.#stopping) return;
    try {
      await this.#consumer.connect();
      // A failure to join from here on crashes the consumer again, and the handler above retries.
      await this.#run();
    } catch (err) {
      if (!this.#stopping) this.#rejoinLater(rootMessage(err));
      return;
    }
    // A join that failed crashed it again, and the crash scheduled the next try.
    if (this.#rejoinTimer !== undefined || this.#stopping) return;
    this.#context.log(`member of group ${this.#options.group} on ${this.#options.topic} rejoined`, 'warn');
    this.#rejoins = 0;
  }

  #run(): Promise<void> {
    return this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#options.concurrency,
      eachBatch: (payload) => this.#eachBatch(payload),
    });
  }

  async start(): Promise<void> {
    try {
      await this.#consumer.connect();
    } catch (err) {
      throw unreachable(this.#context.brokers, err);
    }
    await this.#consumer.subscribe({ topic: this.#options.topic, fromBeginning: this.#options.fromBeginning });
    // Resolves once this member has joined the group and has its partitions.
    await this.#run();
  }

  assignment(): number[] {
    return [...this.#assignment];
  }

  async commit(partition: number, offset: string): Promise<boolean> {
    const { topic, group } = this.#options;
    if (this.#options.commit !== 'manual') throw notManual(topic, group);
    const next = commitOffset(offset);
    if (this.#stopping || !this.#assignment.includes(partition)) return false;
    const progress = this.#progress.get(partition);
    if (!progress || progress.floor === undefined) return false;
    if (next > progress.handed)
      throw commitRefused(
        `commit of ${topic} partition ${partition} up to offset ${next} is past what this member was handed ` +
          `(up to ${progress.handed}); commit only offsets of records the handler received, plus one`,
      );
    if (next <= progress.floor) return true;
    try {
      // The broker refuses a commit from a member of an older generation: one that lost the partition.
      await this.#consumer.commitOffsets([{ topic, partition, offset: String(next) }]);
    } catch (err) {
      this.#context.log(
        `commit of ${topic} partition ${partition} up to ${next} for group ${group} failed: ${rootMessage(err)}; ` +
          'it is tried again with the next commit, or the next owner reads again from the last one',
        'warn',
      );
      return false;
    }
    // A rebalance during the request: the partition may be someone else's now.
    if (this.#progress.get(partition) !== progress || !this.#assignment.includes(partition)) return false;
    if (progress.floor === undefined || next > progress.floor) progress.floor = next;
    return true;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const timer of this.#resumeTimers) clearTimeout(timer);
      clearTimeout(this.#rejoinTimer);
      clearTimeout(this.#unsavedTimer);
      // Stops fetching, waits for the in-flight #eachBatch (which commits), leaves the group.
      await this.#consumer.disconnect();
      this.#assignment = [];
      this.#context.onStopped();
    })();
    return this.#stopping;
  }

  /**
   * A fetched kafkajs batch may hold more records than maxBatchSize: it is handed
   * over in slices, each committed once its handler call resolves. A failed slice
   * is not resolved, so kafkajs fetches the partition again from that slice's first
   * offset; the partition is paused for the backoff first, and the others go on.
   */
  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    const { handler, maxBatchSize, group } = this.#options;
    for (let start = 0; start < messages.length; start += maxBatchSize) {
      // Stopping: leave the rest uncommitted for whoever owns the partition next.
      if (!payload.isRunning()) return;
      const slice = messages.slice(start, start + maxBatchSize);
      const first = slice[0]!.offset;
      const last = slice.at(-1)!.offset;
      if (this.#options.commit === 'manual') this.#handed(partition, BigInt(first), BigInt(last) + 1n);
      try {
        const records = slice.map((m) => toBusRecord(topic, partition, m));
        await this.#whileHeartbeating(payload, () => handler({ topic, partition, records }));
      } catch (err) {
        const delay = this.#pauseAfterFailure(partition, payload);
        this.#context.log(handlerFailed({ group, topic, partition, first, last }, err, delay), 'warn');
        return;
      }
      this.#failures.delete(partition);
      payload.resolveOffset(last);
      if (this.#options.commit === 'on-return') await this.#commitResolved(payload, partition, BigInt(last) + 1n);
      // Throws when the group rebalances; kafkajs then rejoins before fetching again.
      await payload.heartbeat();
    }
  }

  /**
   * Commits what kafkajs has resolved for this member. kafkajs keeps resolved offsets whose
   * commit failed (the broker away) and commits them with the next batch; a partition that
   * stays idle after the outage would keep them uncommitted, as lag, until then. So they
   * are also committed on a timer once no batch's commit is in flight (requests to the
   * coordinator go in the order issued, so an older offset never lands after a newer one).
   */
  async #commitResolved(payload: EachBatchPayload, partition: number, next: bigint): Promise<void> {
    this.#batchCommits += 1;
    try {
      await payload.commitOffsetsIfNecessary(payload.uncommittedOffsets());
      this.#unsaved.clear();
    } catch (err) {
      this.#unsaved.set(partition, next);
      this.#commitUnsavedLater(1);
      throw err;
    } finally {
      this.#batchCommits -= 1;
    }
  }

  #commitUnsavedLater(attempt: number): void {
    if (this.#unsavedTimer || this.#stopping) return;
    this.#unsavedTimer = setTimeout(
      () => {
        this.#unsavedTimer = undefined;
        void this.#commitUnsaved(attempt);
      },
      retryDelayMs(attempt, this.#context.backoff),
    );
  }

  async #commitUnsaved(attempt: number): Promise<void> {
    for (const partition of this.#unsaved.keys()) {
      if (!this.#assignment.includes(partition)) this.#unsaved.delete(partition);
    }
    if (this.#unsaved.size === 0 || this.#stopping) return;
    if (this.#batchCommits > 0) return this.#commitUnsavedLater(attempt);
    const { topic } = this.#options;
    const offsets = [...this.#unsaved].map(([partition, next]) => ({ topic, partition, offset: String(next) }));
    try {
      await this.#consumer.commitOffsets(offsets);
      for (const { partition, offset } of offsets) {
        if (this.#unsaved.get(partition) === BigInt(offset)) this.#unsaved.delete(partition);
      }
    } catch {
      this.#commitUnsavedLater(attempt + 1);
    }
  }

  /**
   * Manual commit: records from `first` to before `next` are handed over. The first fetch
   * after an assignment starts at the group's commit (or the log's start), which is so
   * the floor commits may not go below.
   */
  #handed(partition: number, first: bigint, next: bigint): void {
    if (!this.#assignment.includes(partition)) return;
    const progress = this.#progress.get(partition);
    if (!progress) {
      this.#progress.set(partition, { handed: next, floor: first });
      return;
    }
    progress.floor ??= first;
    if (next > progress.handed) progress.handed = next;
  }

  /** Keeps the membership alive while a handler runs longer than the session timeout. */
  async #whileHeartbeating(payload: EachBatchPayload, work: () => Promise<void>): Promise<void> {
    const timer = setInterval(() => {
      // A failed heartbeat (rebalance, lost membership) resurfaces in the commit or heartbeat after the handler.
      payload.heartbeat().catch(() => undefined);
    }, this.#heartbeatMs);
    try {
      await work();
    } finally {
      clearInterval(timer);
    }
  }

  #pauseAfterFailure(partition: number, payload: EachBatchPayload): number {
    const failures = (this.#failures.get(partition) ?? 0) + 1;
    this.#failures.set(partition, failures);
    const delay = retryDelayMs(failures, this.#context.backoff);
    const resume = payload.pause();
    const timer = setTimeout(() => {
      this.#resumeTimers.delete(timer);
      resume();
    }, delay);
    this.#resumeTimers.add(timer);
    return delay;
  }
}

/**
 * kafkajs's DefaultPartitioner with the same murmur2, computed with 32-bit integer
 * math instead of kafkajs's emulated 64-bit Longs: that hashing was about a tenth of
 * the pipeline's main-thread time under load (bench/pipeline.bench.ts). Every
 * record the bus publishes has a key (OutgoingRecord.key), so kafkajs's round-robin
 * for keyless records is not needed.
 */
const murmur2Partitioner: ICustomPartitioner =
  () =>
  ({ partitionMetadata, message }) =>
    partitionForKey(message.key as string, partitionMetadata.length);

function toBusRecord(topic: string, partition: number, message: KafkaMessage): BusRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString('utf8') ?? '',
    value: message.value ?? Buffer.alloc(0),
    headers: headersOf(message.headers),
    timestamp: Number(message.timestamp),
  };
}

/** Kafka allows repeated header keys; the contract has one value per key, so the last wins. */
function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const one = Array.isArray(value) ? value.at(-1) : value;
    if (one !== undefined) out[name] = one.toString();
  }
  return out;
}

function unreachable(brokers: readonly string[], err: unknown): AispmError {
  return new AispmError(
    'kafka_unreachable',
    `cannot connect to Kafka at ${brokers.join(', ')}: ${rootMessage(err)}. Check that a broker runs there and is ` +
      `reachable from this host, and that ${CONFIG_KEYS.kafkaBrokers.env} lists the host:port the broker advertises ` +
      '(its advertised.listeners)',
    { cause: err },
  );
}

/** kafkajs wraps the error that matters (e.g. ECONNREFUSED) in retry errors; report the innermost. */
function rootMessage(err: unknown): string {
  let inner = err;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  return describeError(inner);
}
