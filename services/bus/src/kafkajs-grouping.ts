import type { Message, PartitionerArgs } from 'kafkajs';

/**
 * A fix for kafkajs 2.2.4's groupMessagesPerPartition, which sorts a send's messages
 * by partition with `Object.assign(result, { [p]: [...current, message] })`: every
 * message copies its partition's list so far, so a send of n messages costs n²/2p
 * copies. At the processor's batch sizes (a few thousand scores per send) that was
 * about a tenth of the pipeline's main-thread time (bench/pipeline.bench.ts), plus
 * the garbage. The replacement appends in place and returns the same shape.
 *
 * kafkajs's sendMessages.js takes the function when it loads, so the fix must be in
 * the module cache before that: kafkajs.ts installs it first.
 */
type Partitioner = (args: PartitionerArgs) => number;

interface GroupArgs extends Omit<PartitionerArgs, 'message'> {
  messages: Message[];
  partitioner: Partitioner;
}

export function groupMessagesPerPartition({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupArgs): Record<number, Message[]> {
  const result: Record<number, Message[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}
