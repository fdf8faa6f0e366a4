import { setMaxListeners } from 'node:events';
import { createFindingCodec, describeError, type Finding, type Logger, type OutgoingRecord } from '@aispm/core';
import type { Batch, Bus, BusRecord, Subscription } from '@aispm/bus';
import type { Dispatcher, Outgoing } from '../dispatch.ts';
import type { Destination } from '../notification.ts';
import { CircuitBreaker, type BreakerOptions } from './breaker.ts';
import { deliver, type DeliveryHooks, type DeliveryOutcome, type DeliveryPolicy } from './delivery.ts';
import { BREAKER_VALUE, createAlerterMetrics, type AlerterMetrics } from './metrics.ts';
import { ALERTER_DEFAULTS } from './options.ts';

/** The alerter's handle on a finding record: where it came from, and whether the dispatcher still holds it. */
export interface Ref {
  partition: number;
  offset: string;
  /** Set once the dispatcher lets the record go: its partition may then be committed past it. */
  released: boolean;
}

export interface AlerterServiceOptions {
  bus: Bus;
  log: Logger;
  /** The findings topic, its consumer group, and the alerts dead-letter topic. */
  topic: string;
  group: string;
  dlqTopic: string;
  dispatcher: Dispatcher<Ref>;
  /** By the names the routes file gives them. */
  destinations: ReadonlyMap<string, Destination>;
  delivery: DeliveryPolicy;
  breaker: BreakerOptions;
  /** Findings taken per batch, and partitions handled at once. */
  maxBatchSize: number;
  concurrency: number;
  /** Attempts in flight at once per destination; more notifications wait their turn. */
  maxInFlightPerDestination: number;
  /**
   * Records held (taken from the bus, not released) above which the bus handler waits for
   * room before it takes more: the bound on what the alerter holds, give or take the
   * batches in the handler (default ALERTER_DEFAULTS.maxHeld).
   */
  maxHeld?: number;
  /**
   * Most milliseconds the bus gathers findings into one batch (SubscribeOptions.lingerMs; default
   * ALERTER_DEFAULTS.lingerMs): a handler that returns at once otherwise fetches a record at a time.
   */
  lingerMs?: number;
  /** How long released records may wait to be committed, so commits go in passes, not one per alert (default ALERTER_DEFAULTS.commitIntervalMs). */
  commitIntervalMs?: number;
  metrics?: AlerterMetrics;
}

export interface AlerterService {
  readonly metrics: AlerterMetrics;
  /** Records in flight: taken from the bus, not yet released. */
  inFlight(): number;
  /** Something changed the dispatcher from outside (the API's silences): collect what it released, send what is due. */
  poke(): void;
  /**
   * Stops taking findings, lets deliveries in flight (and those falling due meanwhile) finish
   * for up to `deadlineMs`, commits what was released, and leaves the group: what was not
   * released is read and sent again by the next run.
   */
  stop(deadlineMs: number): Promise<void>;
}

/**
 * One partition's records the alerter took, in offset order, for its commits: the
 * partition is committed up to its first record still held (or past the last taken).
 */
class PartitionProgress {
  readonly #held: Ref[] = [];
  #head = 0;
  /** The offset after the last record taken; records below it that come again (a rebalance's re-read) are not taken twice. */
  next: bigint | undefined;
  /** What the bus last accepted as committed. */
  committed: bigint | undefined;

  take(ref: Ref): void {
    this.#held.push(ref);
  }

  /** Where the partition may be committed up to: its first record still held, else past the last taken. */
  commitPoint(): bigint | undefined {
    const held = this.#held;
    while (this.#head < held.length && held[this.#head]!.released) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > held.length) {
      held.splice(0, this.#head);
      this.#head = 0;
    }
    return this.#head < held.length ? BigInt(held[this.#head]!.offset) : this.next;
  }

  holding(): boolean {
    return this.commitPoint() !== this.next;
  }
}

/**
 * The alerter: findings from the bus in its own consumer group → the dispatcher
 * (routes, grouping, dedup, inhibition, file silences) → destinations, at least once.
 * The subscription commits by hand: the handler offers a batch's findings and returns,
 * so a finding waiting out its group_wait or group_interval does not stop its
 * partition; each partition is committed, in passes, up to its first record the
 * dispatcher still holds, so a crash re-reads everything not delivered, dead-lettered
 * or needing nothing. The handler waits for room while `maxHeld` records are held.
 */
export async function startAlerter(options: AlerterServiceOptions): Promise<AlerterService> {
  const { bus, log, dispatcher, destinations } = options;
  const maxHeld = Math.max(1, options.maxHeld ?? ALERTER_DEFAULTS.maxHeld);
  const commitIntervalMs = Math.max(0, options.commitIntervalMs ?? ALERTER_DEFAULTS.commitIntervalMs);
  const codec = createFindingCodec();
  const metrics =
    options.metrics ?? createAlerterMetrics(() => bus.backlog?.(options.topic, options.group).records ?? null);
  const stopping = new AbortController();
  // Each attempt in flight and each retry wait listens for the stop: bounded by the deliveries in flight, not 10.
  setMaxListeners(0, stopping.signal);
  /** Per destination, made once: what each delivery needs, so a notification costs no lookups or allocations for it. */
  const lanes = new Map<string, DestinationLane>();
  for (const [name, destination] of destinations) {
    metrics.breaker.set({ destination: name }, 0);
    const retries = metrics.retries.labels({ destination: name });
    lanes.set(name, {
      destination,
      slot: new Semaphore(options.maxInFlightPerDestination),
      breaker: new CircuitBreaker(options.breaker, (state) => {
        metrics.breaker.set({ destination: name }, BREAKER_VALUE[state]);
        log[state === 'open' ? 'warn' : 'info']('alert destination breaker', { destination: name, state });
      }),
      hooks: {
        now: Date.now,
        sleep,
        onAttempt: (result) => {
          if (!result.ok && result.retryable) retries.inc();
        },
      },
      delivered: metrics.deliveries.labels({ destination: name, outcome: 'delivered' }),
      deadLettered: metrics.deliveries.labels({ destination: name, outcome: 'dead_lettered' }),
    });
  }
  /** Per partition this member took records from; at most the topic's partitions. */
  const progress = new Map<number, PartitionProgress>();
  const deliveries = new Set<Promise<void>>();
  /** Handlers waiting for room (at most `concurrency`). */
  let roomWaiters: (() => void)[] = [];
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let commitTimer: NodeJS.Timeout | undefined;
  let committing: Promise<void> | undefined;
  /** Set once subscribed; the handler may run before subscribe() resolves (embedded buses). */
  const bound: { subscription?: Subscription } = {};
  /** Set by stop(): handlers take nothing more and wait for this, so the bus reads no further meanwhile. */
  let draining: PromiseWithResolvers<void> | undefined;

  const wakeWaiters = (): void => {
    const waiters = roomWaiters;
    roomWaiters = [];
    for (const wake of waiters) wake();
  };

  const release = (): void => {
    const refs = dispatcher.released();
    if (refs.length === 0) return;
    for (const ref of refs) ref.released = true;
    inFlight -= refs.length;
    if (inFlight < maxHeld) wakeWaiters();
    scheduleCommit();
  };

  const scheduleCommit = (): void => {
    if (commitTimer || draining) return;
    commitTimer = setTimeout(() => {
      commitTimer = undefined;
      void commitPass();
    }, commitIntervalMs);
  };

  /** Commits each partition this member owns up to its first record still held; one pass at a time. */
  const commitPass = (): Promise<void> => {
    committing ??= (async () => {
      try {
        const subscription = bound.subscription;
        if (!subscription) return scheduleCommit();
        const owned = new Set(subscription.assignment());
        const commits: Promise<void>[] = [];
        let retry = false;
        for (const [partition, p] of progress) {
          const point = p.commitPoint();
          if (!owned.has(partition)) {
            // Lost in a rebalance: never committed by this member; its next owner reads it again. What
            // is still held here goes out anyway (a duplicate at worst), and is kept only until released.
            if (!p.holding()) progress.delete(partition);
            continue;
          }
          if (point === undefined || (p.committed !== undefined && point <= p.committed)) continue;
          commits.push(
            subscription.commit(partition, String(point)).then(
              (ok) => {
                if (ok && (p.committed === undefined || point > p.committed)) p.committed = point;
                else if (!ok) retry = true;
              },
              (err: unknown) => {
                retry = true;
                log.warn('committing alerter offsets failed; retried with the next pass', {
                  partition,
                  error: describeError(err),
                });
              },
            ),
          );
        }
        await Promise.all(commits);
        if (retry && !stopping.signal.aborted) scheduleCommit();
      } finally {
        committing = undefined;
      }
    })();
    return committing;
  };

  /** Starts sending what is due now. */
  const sendDue = (now: number): void => {
    for (const outgoing of dispatcher.due(now)) {
      const task = send(outgoing).catch((err: unknown) => {
        log.error('alert delivery failed unexpectedly; it is sent again after a restart', {
          route: outgoing.notification.route,
          destination: outgoing.destination,
          error: describeError(err),
        });
      });
      deliveries.add(task);
      void task.finally(() => deliveries.delete(task));
    }
  };

  const pump = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    sendDue(Date.now());
    release();
    metrics.inFlightDeliveries.set(deliveries.size);
    metrics.inFlightRefs.set(inFlight);
    const next = dispatcher.nextDueAt();
    if (next !== null && !stopping.signal.aborted) timer = setTimeout(pump, Math.max(0, next - Date.now()));
  };

  /** Settles at once; what that makes due or releases is collected once per turn of the event loop, not per notification. */
  let pumpQueued = false;
  const pumpSoon = (): void => {
    if (pumpQueued) return;
    pumpQueued = true;
    setImmediate(() => {
      pumpQueued = false;
      pump();
    });
  };
  const settle = (outgoing: Outgoing<Ref>): void => {
    dispatcher.settle(outgoing, Date.now());
    pumpSoon();
  };
  const send = async (outgoing: Outgoing<Ref>): Promise<void> => {
    const { destination: name, notification } = outgoing;
    const lane = lanes.get(name);
    if (!lane) {
      const reason = `route ${notification.route} names destination "${name}", which the routes file does not define`;
      await deadLetterAlert(outgoing, { kind: 'dead', attempts: 0, reason });
      settle(outgoing);
      return;
    }
    await lane.slot.acquire();
    let outcome: DeliveryOutcome;
    try {
      outcome = await deliver(
        lane.destination,
        notification,
        lane.breaker,
        options.delivery,
        lane.hooks,
        stopping.signal,
      );
    } finally {
      lane.slot.release();
    }
    if (outcome.kind === 'aborted') return;
    if (outcome.kind === 'dead') {
      log.warn('alert dead-lettered', { destination: name, route: notification.route, reason: outcome.reason });
      await deadLetterAlert(outgoing, outcome);
      lane.deadLettered.inc();
    } else lane.delivered.inc();
    settle(outgoing);
  };

  /** The DLQ holds what a person needs to send it by hand: the alert, where to, why not, and how often tried. */
  const deadLetterAlert = async (
    outgoing: Outgoing<Ref>,
    outcome: Extract<DeliveryOutcome, { kind: 'dead' }>,
  ): Promise<void> => {
    const { notification } = outgoing;
    const value = Buffer.from(
      JSON.stringify({
        kind: 'alert',
        destination: outgoing.destination,
        reason: outcome.reason,
        status: outcome.status ?? null,
        attempts: outcome.attempts,
        at: new Date().toISOString(),
        notification: { ...notification, linkOf: undefined },
      }),
    );
    await publishDlq(
      {
        key: `${notification.tenant}/${notification.groupKey}`,
        value,
        headers: dlqHeaders(notification.tenant, 'undeliverable', outcome.reason),
      },
      'undeliverable',
    );
  };

  /** The DLQ write must land before the alert counts as settled: it is retried until it does or the alerter stops. */
  const publishDlq = async (record: OutgoingRecord, reason: string): Promise<void> => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await bus.publish(options.dlqTopic, [record]);
        metrics.dlq.inc({ reason });
        return;
      } catch (err) {
        if (stopping.signal.aborted) throw err;
        log.warn('alerts DLQ publish failed; retrying', { error: describeError(err), attempt });
        await sleep(Math.min(30_000, 200 * 2 ** Math.min(attempt, 8)), stopping.signal);
      }
    }
  };

  const handler = async (batch: Batch): Promise<void> => {
    while (inFlight >= maxHeld && !draining) await new Promise<void>((resolve) => roomWaiters.push(resolve));
    // Stopping: take nothing more, and hold the partition until the last commit is made.
    if (draining) return draining.promise;
    let p = progress.get(batch.partition);
    if (!p) {
      p = new PartitionProgress();
      progress.set(batch.partition, p);
    }
    const offered: { finding: Finding; ref: Ref }[] = [];
    for (const record of batch.records) {
      const offset = BigInt(record.offset);
      // Taken already: the bus reads a kept partition again from its commit after a rebalance.
      if (p.next !== undefined && offset < p.next) continue;
      let finding: Finding;
      try {
        finding = codec.decode(record.value);
      } catch (err) {
        await publishDlq(undecodable(record, err), 'undecodable');
        p.next = offset + 1n;
        continue;
      }
      const ref: Ref = { partition: batch.partition, offset: record.offset, released: false };
      p.take(ref);
      p.next = offset + 1n;
      offered.push({ finding, ref });
    }
    inFlight += offered.length;
    const now = Date.now();
    for (const { finding, ref } of offered) {
      dispatcher.offer(finding, now, ref);
      // What is due at once (group_wait 0) goes before the next record: a trigger is not lost to its
      // resolve later in the same batch, and follows it out instead.
      sendDue(now);
    }
    pump();
    // Records that needed nothing (or did not decode) may be committed past without a release.
    scheduleCommit();
  };

  await bus.ensureTopics([{ topic: options.dlqTopic, partitions: 1 }]);
  const subscribed = await bus.subscribe({
    topic: options.topic,
    group: options.group,
    handler,
    maxBatchSize: options.maxBatchSize,
    concurrency: options.concurrency,
    lingerMs: options.lingerMs ?? ALERTER_DEFAULTS.lingerMs,
    commit: 'manual',
  });
  bound.subscription = subscribed;
  log.info('alerter consuming findings', {
    topic: options.topic,
    group: options.group,
    destinations: [...destinations.keys()],
  });

  return {
    metrics,
    inFlight: () => inFlight,
    poke: () => pump(),
    async stop(deadlineMs) {
      if (draining) return draining.promise;
      draining = Promise.withResolvers<void>();
      const drained = draining;
      wakeWaiters();
      try {
        // What is due meanwhile still goes; what waits out a group_wait past the deadline is left to the next run.
        const deadline = Date.now() + deadlineMs;
        while (deliveries.size > 0 && Date.now() < deadline) {
          const left = new AbortController();
          await Promise.race([Promise.allSettled([...deliveries]), sleep(deadline - Date.now(), left.signal)]);
          left.abort();
        }
        stopping.abort();
        if (timer) clearTimeout(timer);
        if (commitTimer) clearTimeout(commitTimer);
        commitTimer = undefined;
        await Promise.allSettled([...deliveries]);
        release();
        await committing;
        await commitPass();
      } finally {
        drained.resolve();
        await subscribed.stop();
      }
    },
  };
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

interface DestinationLane {
  destination: Destination;
  slot: Semaphore;
  breaker: CircuitBreaker;
  hooks: DeliveryHooks;
  delivered: { inc(): void };
  deadLettered: { inc(): void };
}

function dlqHeaders(tenant: string, code: string, reason: string): Record<string, string> {
  return { 'aispm.dlq.code': code, 'aispm.dlq.reason': reason.slice(0, 4096), 'aispm.tenant': tenant };
}

function undecodable(record: BusRecord, err: unknown): OutgoingRecord {
  return {
    key: record.key,
    value: record.value,
    headers: {
      ...record.headers,
      'aispm.dlq.code': 'undecodable',
      'aispm.dlq.reason': describeError(err),
      'aispm.dlq.source': `${record.topic}/${record.partition}/${record.offset}`,
    },
  };
}

/** Counts slots; waiters are served in order. Its queue is bounded by the records in flight. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free += 1;
  }
}
