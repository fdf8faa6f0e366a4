/** A record to append to a topic: what the pipeline's Bus and the shim's Kafka exporter publish. */
export interface OutgoingRecord {
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
  /** The partition to append to; by default the key's (partitionForKey), as Kafka's default partitioner does. */
  partition?: number;
}

/**
 * What publishes records to a topic: the part of @aispm/bus's Bus a producer
 * needs, so code that only publishes (the shim) depends on core and not the bus.
 */
export interface Publisher {
  /** Appends records; resolves once they are durable (Kafka: acknowledged by all in-sync replicas). */
  publish(topic: string, records: readonly OutgoingRecord[]): Promise<void>;
}
