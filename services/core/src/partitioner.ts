/**
 * Key → partition, exactly as Kafka's default partitioner does it (murmur2 of the
 * key's UTF-8 bytes, sign bit masked, modulo the partition count). The memory bus
 * and the Kafka producer (kafkajs DefaultPartitioner, like the Java client) use
 * this same function, so a key lands on the same partition in both run modes.
 */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils#murmur2): 32-bit signed result. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24) | 0;
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition a record goes to: its own when it names one (which must exist), else its key's. */
export function partitionOfRecord(record: { key: string; partition?: number }, partitions: number): number {
  const { partition } = record;
  if (partition === undefined) return partitionForKey(record.key, partitions);
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions)
    throw new RangeError(`partition ${partition} does not exist: the topic has ${partitions}`);
  return partition;
}
