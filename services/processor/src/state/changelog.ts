import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, PartitionAssigner } from 'kafkajs';
import { AispmError } from '@aispm/core';
import { kafkajs, type Bus } from '@aispm/bus';
import { splitCuts, type StateBackend } from './backend.ts';
import { createCheckpointCodec, type Checkpoint } from './checkpoint.ts';
import { isCutKey } from './cuts.ts';

export interface KafkaChangelogOptions {
  /** Publishes checkpoints (the pipeline's Kafka bus: idempotent producer, same partitioner as the events). */
  bus: Bus;
  brokers: string[];
  clientId?: string;
  /** The compacted changelog topic (config.topics.state). */
  topic: string;
  /** The events topic: the changelog must have as many partitions, so key → partition agrees. */
  eventsTopic: string;
  /** Longest a restore may take before it fails (and the batch is retried). */
  restoreTimeoutMs?: number;
}

/**
 * Checkpoints on the compacted changelog topic. Records are keyed by the partition
 * key and published through the bus's producer, whose partitioner is the events
 * producer's, so changelog partition p holds exactly the keys of events partition p.
 *
 * Reading partition p back: the Bus contract only consumes as a group member, and
 * kafkajs has no manual assignment, so a restore runs a throwaway one-member group
 * whose assigner hands it just the wanted partitions, reads them from the start up
 * to the end offset taken before, and deletes the group. Empty partitions (the first
 * start) cost one ListOffsets request and no group at all.
 */
export class KafkaChangelog implements StateBackend {
  private readonly options: KafkaChangelogOptions;
  private readonly kafka: Kafka;
  private readonly codec = createCheckpointCodec();
  private checked = false;

  constructor(options: KafkaChangelogOptions) {
    this.options = options;
    this.kafka = new kafkajs.Kafka({
      brokers: options.brokers,
      clientId: `${options.clientId ?? 'aispm'}-restore`,
      logLevel: kafkajs.logLevel.ERROR,
    });
  }

  async save(checkpoints: readonly Checkpoint[]): Promise<void> {
    if (checkpoints.length === 0) return;
    await this.options.bus.publish(
      this.options.topic,
      checkpoints.map(({ key, ...value }) => ({ key, value: this.codec.encode(value) })),
    );
  }

  /** A partition's cuts are not an entity's: their key would hash to any partition, so they are placed by hand. */
  async saveCuts(cuts: Checkpoint): Promise<void> {
    const { key, ...value } = cuts;
    await this.options.bus.publish(this.options.topic, [
      { key, value: this.codec.encode(value), partition: value.partition },
    ]);
  }

  async load(partitions: readonly number[]): Promise<Checkpoint[]> {
    return (await this.loadWithCuts(partitions)).checkpoints;
  }

  async loadWithCuts(partitions: readonly number[]): Promise<{ checkpoints: Checkpoint[]; cuts: Checkpoint[] }> {
    return splitCuts(await this.loadAll(partitions), isCutKey);
  }

  private async loadAll(partitions: readonly number[]): Promise<Checkpoint[]> {
    if (partitions.length === 0) return [];
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await this.checkPartitions(admin);
      const ends = new Map<number, bigint>();
      for (const o of await admin.fetchTopicOffsets(this.options.topic)) {
        if (partitions.includes(o.partition) && BigInt(o.high) > BigInt(o.low)) ends.set(o.partition, BigInt(o.high));
      }
      if (ends.size === 0) return [];
      return await this.read(admin, ends);
    } finally {
      await admin.disconnect();
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Reads partitions from the start to `ends` (exclusive); the newest record per key wins. */
  private async read(admin: Admin, ends: Map<number, bigint>): Promise<Checkpoint[]> {
    const { topic } = this.options;
    const groupId = `aispm-restore-${randomUUID()}`;
    const consumer = this.kafka.consumer({
      groupId,
      partitionAssigners: [onlyPartitions(topic, [...ends.keys()])],
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: 16 * 1024 * 1024,
      allowAutoTopicCreation: false,
    });
    const newest = new Map<string, Checkpoint>();
    const pending = new Set(ends.keys());
    const timeoutMs = this.options.restoreTimeoutMs ?? 60_000;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new AispmError(
                'state_restore_timeout',
                `restoring state from ${topic} partitions ${[...pending].join(', ')} took over ${timeoutMs} ms; ` +
                  'check the brokers; the batch is retried',
              ),
            ),
          timeoutMs,
        );
        consumer
          .run({
            autoCommit: false,
            eachBatch: ({ batch }) => {
              const end = ends.get(batch.partition);
              for (const message of batch.messages) {
                if (end === undefined || BigInt(message.offset) >= end) continue;
                const key = message.key?.toString('utf8');
                if (key && message.value) newest.set(key, { key, ...this.codec.decode(message.value) });
                if (BigInt(message.offset) + 1n >= end) pending.delete(batch.partition);
              }
              // Compaction may have removed the records just below the end: the high watermark says we are there.
              if (end !== undefined && BigInt(batch.highWatermark) >= end && batch.isEmpty()) {
                pending.delete(batch.partition);
              }
              if (pending.size === 0) {
                clearTimeout(timer);
                resolve();
              }
              return Promise.resolve();
            },
          })
          .catch((err: unknown) => {
            clearTimeout(timer);
            reject(err instanceof Error ? err : new Error(String(err)));
          });
      });
    } finally {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return [...newest.values()];
  }

  /** Same partition counts, or keys of one events partition would be spread over several changelog partitions. */
  private async checkPartitions(admin: Admin): Promise<void> {
    if (this.checked) return;
    const { topic, eventsTopic } = this.options;
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic, eventsTopic] });
    const count = (name: string): number => topics.find((t) => t.name === name)?.partitions.length ?? 0;
    if (count(topic) !== count(eventsTopic)) {
      throw new AispmError(
        'state_partitions_mismatch',
        `the changelog ${topic} has ${count(topic)} partitions but ${eventsTopic} has ${count(eventsTopic)}; ` +
          `they must match so a key's state lives in the partition of its events: recreate ${topic} ` +
          `with ${count(eventsTopic)} partitions (cleanup.policy=compact)`,
      );
    }
    this.checked = true;
  }
}

/** A group assigner that gives the (only) member exactly these partitions of one topic. */
function onlyPartitions(topic: string, partitions: number[]): PartitionAssigner {
  const name = 'aispm-restore';
  return () => ({
    name,
    version: 1,
    assign: ({ members }) =>
      Promise.resolve(
        members.map((member, i) => ({
          memberId: member.memberId,
          memberAssignment: kafkajs.AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment: i === 0 ? { [topic]: partitions } : {},
            userData: Buffer.alloc(0),
          }),
        })),
      ),
    protocol: ({ topics }) => ({
      name,
      metadata: kafkajs.AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    }),
  });
}
