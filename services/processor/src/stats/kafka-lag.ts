import { kafkajs } from '@aispm/bus';
import type { Admin } from 'kafkajs';

/** How old a partition's lag may be before it is asked of the brokers again (in the background). */
const REFRESH_MS = 1000;
/** Topic/group pairs kept: one per stage. */
const MAX_ENTRIES = 64;

interface Entry {
  value: ReadonlyMap<number, number> | null;
  at: number;
  refreshing: boolean;
}

/**
 * A consumer group's lag per partition of a topic, as the brokers report it (end
 * offset minus the group's committed offset, from the partition's start where it
 * has committed nothing), for the pipeline stats in distributed mode: the Bus tells a
 * topic's total only. Read synchronously from the last answer, refreshed in the
 * background at most once a second; null until the first answer (or while the
 * brokers do not answer). A group that has committed nowhere is not reading yet: no
 * lag, as on the buses.
 */
export class KafkaPartitionLag {
  readonly #admin: Admin;
  readonly #entries = new Map<string, Entry>();
  #connected: Promise<void> | null = null;
  #closed = false;

  constructor(options: { brokers: string[]; clientId: string }) {
    this.#admin = new kafkajs.Kafka({
      brokers: options.brokers,
      clientId: `${options.clientId}-lag`,
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
  }

  lag(topic: string, group: string): ReadonlyMap<number, number> | null {
    const id = `${topic}\u0000${group}`;
    let entry = this.#entries.get(id);
    if (!entry) {
      if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
      entry = { value: null, at: 0, refreshing: false };
      this.#entries.set(id, entry);
    }
    if (!entry.refreshing && !this.#closed && Date.now() - entry.at >= REFRESH_MS) {
      const refreshed = entry;
      refreshed.refreshing = true;
      this.read(topic, group)
        .then((value) => (refreshed.value = value))
        .catch(() => undefined)
        .finally(() => {
          refreshed.at = Date.now();
          refreshed.refreshing = false;
        });
    }
    return entry.value;
  }

  /** The lag per partition, asked of the brokers now. */
  async read(topic: string, group: string): Promise<Map<number, number>> {
    this.#connected ??= this.#admin.connect();
    await this.#connected;
    const [ends, committed] = await Promise.all([
      this.#admin.fetchTopicOffsets(topic),
      this.#admin.fetchOffsets({ groupId: group, topics: [topic] }),
    ]);
    const at = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    const reading = [...at.values()].some((offset) => offset >= 0n);
    const lag = new Map<number, number>();
    for (const end of ends) {
      const done = at.get(end.partition) ?? -1n;
      // The two answers are not one snapshot (and a restarted broker reports its end late): never below 0.
      const behind = BigInt(end.high) - (done >= 0n ? done : BigInt(end.low));
      lag.set(end.partition, reading && behind > 0n ? Number(behind) : 0);
    }
    return lag;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#connected) await this.#connected.then(() => this.#admin.disconnect()).catch(() => undefined);
  }
}
