import { AispmError, describeError, type Bus, type OutgoingRecord } from '@aispm/core';

/** Kafka did not acknowledge within the publish timeout, or refused; the sender should retry later. */
export class PublishUnavailable extends AispmError {}

/** A held in-flight slot: free once the request is answered and its publish (if any) has settled. */
export interface Slot {
  /** Publishes and waits for Kafka's acknowledgement, at most the publish timeout. */
  publish(records: readonly OutgoingRecord[]): Promise<void>;
  /** The request is answered; the slot frees now, or when its publish settles. */
  done(): void;
}

/**
 * Bounds the requests in flight and the wait for Kafka. A publish that times out goes on
 * inside the bus (KafkaBus retries until the brokers acknowledge) and keeps its slot until
 * it settles, so an outage cannot pile up unbounded work: once the slots are taken, new
 * requests are turned away at once instead of being read.
 */
export class Admission {
  readonly #bus: Bus;
  readonly #topic: string;
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #onChange: (inFlight: number) => void;
  #inFlight = 0;
  /** Set by a failed or timed-out publish, cleared by the next acknowledged one. */
  #kafkaDown = false;

  constructor(options: {
    bus: Bus;
    topic: string;
    maxInFlight: number;
    publishTimeoutMs: number;
    onChange?: (inFlight: number) => void;
  }) {
    this.#bus = options.bus;
    this.#topic = options.topic;
    this.#max = options.maxInFlight;
    this.#timeoutMs = options.publishTimeoutMs;
    this.#onChange = options.onChange ?? (() => undefined);
  }

  /** Whether the last publish failed or timed out (and none has been acknowledged since). */
  get kafkaDown(): boolean {
    return this.#kafkaDown;
  }

  /** A slot, or null when the bound is reached. */
  tryAcquire(): Slot | null {
    if (this.#inFlight >= this.#max) return null;
    this.#change(+1);
    let holds = 1;
    const release = (): void => {
      if (--holds === 0) this.#change(-1);
    };
    return {
      publish: (records) => {
        holds++;
        // The bus keeps each request under the brokers' size limit (KafkaBus.publish).
        const pending = this.#bus.publish(this.#topic, records);
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
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#kafkaDown = true;
        reject(
          new PublishUnavailable(
            'kafka_publish_timeout',
            `Kafka did not acknowledge within ${this.#timeoutMs} ms; nothing of this request is acknowledged, send it again later`,
          ),
        );
      }, this.#timeoutMs);
    });
    try {
      await Promise.race([pending, timeout]);
    } catch (err) {
      if (err instanceof PublishUnavailable) throw err;
      throw new PublishUnavailable(
        'kafka_publish_failed',
        `Kafka refused the records (${describeError(err)}); send them again later`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  #change(delta: number): void {
    this.#inFlight += delta;
    this.#onChange(this.#inFlight);
  }
}
