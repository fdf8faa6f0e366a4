import { createFindingCodec, describeError, type Finding, type Logger, type OutgoingRecord } from '@aispm/core';
import type { Batch, Bus, BusRecord, Subscription } from '@aispm/bus';
import type { Dispatcher, Outgoing } from '../dispatch.ts';
import type { Destination } from '../notification.ts';
import { CircuitBreaker, type BreakerOptions } from './breaker.ts';
import { deliver, type DeliveryOutcome, type DeliveryPolicy } from './delivery.ts';
import { BREAKER_VALUE, createAlerterMetrics, type AlerterMetrics } from './metrics.ts';

/** The alerter's handle on a finding record: where it came from, and the batch waiting for it. */
export interface Ref {
  partition: number;
  offset: string;
  batch: number;
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
  /** Findings taken per batch, and partitions handled at once: together the bound on records in flight. */
  maxBatchSize: number;
  concurrency: number;
  /** Attempts in flight at once per destination; more notifications wait their turn. */
  maxInFlightPerDestination: number;
  metrics?: AlerterMetrics;
}

export interface AlerterService {
  readonly metrics: AlerterMetrics;
  /** Records in flight: taken from the bus, not yet released. */
  inFlight(): number;
  /** Something changed the dispatcher from outside (the API's silences): collect what it released, send what is due. */
  poke(): void;
  /**
   * Stops taking findings, lets deliveries in flight finish for up to `deadlineMs`, then
   * commits what was released: what was not is read and sent again by the next run.
   */
  stop(deadlineMs: number): Promise<void>;
}

interface Waiting {
  left: number;
  done: () => void;
  failed: (err: Error) => void;
}

/**
 * The alerter: findings from the bus in its own consumer group → the dispatcher
 * (routes, grouping, dedup, inhibition, file silences) → destinations, at least once.
 * A batch's handler returns only once every record of it is released, so the bus
 * commits a partition's offsets only past records that were delivered, dead-lettered
 * or needed nothing; a crash re-reads the rest. Holding the handler is also the
 * backpressure: at most `concurrency` batches of `maxBatchSize` are in flight.
 */
export async function startAlerter(options: AlerterServiceOptions): Promise<AlerterService> {
  const { bus, log, dispatcher, destinations } = options;
  const codec = createFindingCodec();
  const metrics =
    options.metrics ?? createAlerterMetrics(() => bus.backlog?.(options.topic, options.group).records ?? null);
  const stopping = new AbortController();
  const breakers = new Map<string, CircuitBreaker>();
  const slots = new Map<string, Semaphore>();
  for (const name of destinations.keys()) {
    slots.set(name, new Semaphore(options.maxInFlightPerDestination));
    metrics.breaker.set({ destination: name }, 0);
    breakers.set(
      name,
      new CircuitBreaker(options.breaker, (state) => {
        metrics.breaker.set({ destination: name }, BREAKER_VALUE[state]);
        log[state === 'open' ? 'warn' : 'info']('alert destination breaker', { destination: name, state });
      }),
    );
  }
  const waiting = new Map<number, Waiting>();
  const deliveries = new Set<Promise<void>>();
  let nextBatch = 0;
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;

  const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });

  const release = (): void => {
    for (const ref of dispatcher.released()) {
      const w = waiting.get(ref.batch);
      if (!w) continue;
      inFlight -= 1;
      w.left -= 1;
      if (w.left === 0) {
        waiting.delete(ref.batch);
        w.done();
      }
    }
    metrics.inFlightRefs.set(inFlight);
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
      metrics.inFlightDeliveries.set(deliveries.size);
      void task.finally(() => {
        deliveries.delete(task);
        metrics.inFlightDeliveries.set(deliveries.size);
      });
    }
  };

  const pump = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    sendDue(Date.now());
    release();
    const next = dispatcher.nextDueAt();
    if (next !== null && !stopping.signal.aborted) timer = setTimeout(pump, Math.max(0, next - Date.now()));
  };

  const settle = (outgoing: Outgoing<Ref>): void => {
    dispatcher.settle(outgoing, Date.now());
    pump();
  };

  const send = async (outgoing: Outgoing<Ref>): Promise<void> => {
    const { destination: name } = outgoing;
    const destination = destinations.get(name);
    const breaker = breakers.get(name);
    if (!destination || !breaker) {
      const reason = `route ${outgoing.notification.route} names destination "${name}", which the routes file does not define`;
      await deadLetterAlert(outgoing, { kind: 'dead', attempts: 0, reason });
      settle(outgoing);
      return;
    }
    const { notification } = outgoing;
    const slot = slots.get(name);
    await slot?.acquire();
    let outcome: DeliveryOutcome;
    try {
      outcome = await deliver(
        destination,
        notification,
        breaker,
        options.delivery,
        {
          now: Date.now,
          sleep,
          onAttempt: (result) => {
            if (!result.ok && result.retryable) metrics.retries.inc({ destination: name });
          },
        },
        stopping.signal,
      );
    } finally {
      slot?.release();
    }
    if (outcome.kind === 'aborted') return;
    if (outcome.kind === 'dead') {
      log.warn('alert dead-lettered', { destination: name, route: notification.route, reason: outcome.reason });
      await deadLetterAlert(outgoing, outcome);
    }
    metrics.deliveries.inc({
      destination: name,
      outcome: outcome.kind === 'delivered' ? 'delivered' : 'dead_lettered',
    });
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
    const id = nextBatch++;
    const offered: { finding: Finding; ref: Ref }[] = [];
    for (const record of batch.records) {
      let finding: Finding;
      try {
        finding = codec.decode(record.value);
      } catch (err) {
        await publishDlq(undecodable(record, err), 'undecodable');
        continue;
      }
      offered.push({ finding, ref: { partition: batch.partition, offset: record.offset, batch: id } });
    }
    if (offered.length === 0) return;
    const done = new Promise<void>((resolve, reject) => {
      waiting.set(id, { left: offered.length, done: resolve, failed: reject });
    });
    inFlight += offered.length;
    const now = Date.now();
    for (const { finding, ref } of offered) {
      dispatcher.offer(finding, now, ref);
      // What is due at once (group_wait 0) goes before the next record: a trigger is not lost to its
      // resolve later in the same batch, and follows it out instead.
      sendDue(now);
    }
    pump();
    await done;
  };

  await bus.ensureTopics([{ topic: options.dlqTopic, partitions: 1 }]);
  const subscription: Subscription = await bus.subscribe({
    topic: options.topic,
    group: options.group,
    handler,
    maxBatchSize: options.maxBatchSize,
    concurrency: options.concurrency,
  });
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
      const stopped = subscription.stop();
      const deadline = setTimeout(() => {
        // What is still held is not committed: the next run reads it and sends it again.
        stopping.abort();
        for (const w of waiting.values()) w.failed(new Error('alerter stopped before these findings were delivered'));
        waiting.clear();
      }, deadlineMs);
      try {
        await stopped;
      } finally {
        clearTimeout(deadline);
        stopping.abort();
        if (timer) clearTimeout(timer);
        for (const w of waiting.values()) w.failed(new Error('alerter stopped'));
        waiting.clear();
        await Promise.allSettled([...deliveries]);
      }
    },
  };
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
