import { describeError, type OutgoingRecord } from '@aispm/core';
import { type Bus } from '@aispm/bus';
import { GATEWAY_ERRORS, GatewayError, gatewayError } from './errors.ts';
import type { GatewayMetrics } from './metrics.ts';

/** Records (and their bytes) published to a topic and not yet committed by a consumer group (Bus.backlog). */
export type Backlog = ReturnType<NonNullable<Bus['backlog']>>;

/** A held in-flight slot: free once the request is answered and its publish (if any) has settled. */
export interface Slot {
  /** Holds `bytes` more of this request (body as sent, inflated); the refusal when that passes a bound. */
  charge: (bytes: number) => GatewayError | null;
  /** Bytes this request may still hold under its tenant's bound and the gateway's. */
  headroom: () => number;
  /** Holds exactly `bytes` from now on, within the bounds or not (a body exchanged for its smaller records). */
  hold: (bytes: number) => void;
  /** Publishes (to the events topic, or `topic`) and waits for Kafka's acknowledgement, at most the publish timeout. */
  publish: (records: readonly OutgoingRecord[], topic?: string) => Promise<void>;
  /** The request is answered; the slot frees now, or when its publish settles. */
  done: () => void;
}

export interface AdmissionOptions {
  bus: Bus;
  topic: string;
  /** The consumer group whose backlog is bounded (the processor's). */
  group: string;
  /** Other topics and groups whose backlogs count too (the GenAI sink's). */
  alsoBacklogOf?: readonly { topic: string; group: string }[];
  maxInFlight: number;
  tenantMaxInFlight: number;
  maxBytes: number;
  tenantMaxBytes: number;
  /** 0: no bound. */
  backlogMaxEvents: number;
  backlogMaxBytes: number;
  publishTimeoutMs: number;
  metrics?: GatewayMetrics;
}

interface Usage {
  inFlight: number;
  bytes: number;
}

/**
 * Decides, before a body is read, whether a request may go on, and bounds what requests
 * hold while they run:
 * - the processor's backlog on the bus (when the bus can tell): past its bounds every
 *   request gets 503, so a flood waits in the senders' retry queues instead of this
 *   process's memory;
 * - requests in flight, per tenant and in total: no tenant can take more than its share,
 *   so one tenant's slow or stalled uploads never lock the others out;
 * - bytes held (bodies as sent and inflated, then their records), per tenant and in total.
 * A publish that times out goes on inside the bus (KafkaBus retries until the brokers
 * acknowledge) and keeps its slot until it settles, so an outage cannot pile up unbounded
 * work: once the slots are taken, new requests are turned away at once instead of being read.
 */
export class Admission {
  readonly #bus: Bus;
  readonly #options: AdmissionOptions;
  readonly #tenants = new Map<string, Usage>();
  readonly #total: Usage = { inFlight: 0, bytes: 0 };
  /** Set by a failed or timed-out publish, cleared by the next acknowledged one. */
  #kafkaDown = false;

  constructor(options: AdmissionOptions) {
    this.#bus = options.bus;
    this.#options = options;
  }

  /** Requests admitted and not yet done (their publishes included). */
  get inFlight(): number {
    return this.#total.inFlight;
  }

  /** Whether the last publish failed or timed out (and none has been acknowledged since). */
  get kafkaDown(): boolean {
    return this.#kafkaDown;
  }

  /** The processor's backlog now, or null when the bus cannot tell (Kafka). Cheap: the bus keeps running counters. */
  backlog(): Backlog | null {
    if (!this.#bus.backlog) return null;
    const value: Backlog = { records: 0, bytes: 0 };
    const streams = [
      { topic: this.#options.topic, group: this.#options.group },
      ...(this.#options.alsoBacklogOf ?? []),
    ];
    for (const { topic, group } of streams) {
      try {
        const one = this.#bus.backlog(topic, group);
        value.records += one.records;
        value.bytes += one.bytes;
      } catch {
        // A bus that cannot tell right now (the topic is not there yet) bounds nothing for it.
      }
    }
    this.#options.metrics?.backlogEvents.set(value.records);
    this.#options.metrics?.backlogBytes.set(value.bytes);
    return value;
  }

  /** A slot for one of `tenant`'s requests, or the refusal to answer. */
  tryAcquire(tenant: string): Slot | GatewayError {
    const o = this.#options;
    const backlog = this.backlog();
    if (
      backlog &&
      ((o.backlogMaxEvents > 0 && backlog.records >= o.backlogMaxEvents) ||
        (o.backlogMaxBytes > 0 && backlog.bytes >= o.backlogMaxBytes))
    ) {
      return gatewayError('pipeline_backlog', backlog.records, backlog.bytes);
    }
    const usage = this.#tenants.get(tenant) ?? { inFlight: 0, bytes: 0 };
    const tenantFull = usage.inFlight >= o.tenantMaxInFlight;
    const full = this.#total.inFlight >= o.maxInFlight;
    if ((tenantFull || full) && this.#kafkaDown) return gatewayError('kafka_unavailable');
    if (tenantFull) return gatewayError('tenant_in_flight', tenant, o.tenantMaxInFlight);
    if (full) return gatewayError('gateway_in_flight', o.maxInFlight);
    this.#tenants.set(tenant, usage);
    return this.#slot(tenant, usage);
  }

  #slot(tenant: string, usage: Usage): Slot {
    const o = this.#options;
    let held = 0;
    let holds = 1;
    const bytes = (delta: number): void => {
      held += delta;
      usage.bytes += delta;
      this.#total.bytes += delta;
      o.metrics?.bytesInFlight.set(this.#total.bytes);
    };
    this.#count(tenant, usage, +1);
    const release = (): void => {
      if (--holds > 0) return;
      bytes(-held);
      this.#count(tenant, usage, -1);
      if (usage.inFlight === 0 && usage.bytes === 0) this.#tenants.delete(tenant);
    };
    return {
      charge: (n) => {
        if (usage.bytes + n > o.tenantMaxBytes) return gatewayError('tenant_bytes', tenant, o.tenantMaxBytes);
        if (this.#total.bytes + n > o.maxBytes) return gatewayError('gateway_bytes', o.maxBytes);
        bytes(n);
        return null;
      },
      headroom: () => Math.max(0, Math.min(o.tenantMaxBytes - usage.bytes, o.maxBytes - this.#total.bytes)),
      hold: (n) => bytes(n - held),
      publish: (records, topic = o.topic) => {
        holds++;
        // The bus keeps each request under the brokers' size limit (KafkaBus.publish).
        const pending = this.#bus.publish(topic, records);
        const settled = pending.then(
          () => {
            this.#kafkaDown = false;
          },
          () => {
            this.#kafkaDown = true;
          },
        );
        void settled.finally(release);
        return this.#within(pending);
      },
      done: release,
    };
  }

  async #within(pending: Promise<unknown>): Promise<void> {
    const timeoutMs = this.#options.publishTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#kafkaDown = true;
        reject(gatewayError('kafka_publish_timeout', timeoutMs));
      }, timeoutMs);
    });
    try {
      await Promise.race([pending, timeout]);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new GatewayError('kafka_publish_failed', GATEWAY_ERRORS.kafka_publish_failed.message(describeError(err)), {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  #count(tenant: string, usage: Usage, delta: number): void {
    usage.inFlight += delta;
    this.#total.inFlight += delta;
    this.#options.metrics?.inFlight.set(this.#total.inFlight);
    this.#options.metrics?.tenantInFlight.set({ tenant }, usage.inFlight);
  }
}
