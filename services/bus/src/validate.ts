import type { SubscribeOptions, TopicSpec } from './bus.ts';
import { invalidOption, invalidTopic } from './bus-errors.ts';

/** The same rules Kafka applies, so a name that works in embedded mode works on a broker. */
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const DEFAULT_MAX_BATCH_SIZE = 1000;

export function checkTopicSpecs(specs: readonly TopicSpec[]): void {
  for (const spec of specs) {
    if (!TOPIC_NAME.test(spec.topic) || spec.topic === '.' || spec.topic === '..') {
      throw invalidTopic(`topic name ${JSON.stringify(spec.topic)} is invalid; use 1-249 letters, digits, . _ -`);
    }
    if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
      throw invalidTopic(
        `topic ${spec.topic}: partitions is ${spec.partitions}; expected a whole number of at least 1`,
      );
    }
  }
}

/** SubscribeOptions with their defaults filled in, checked. */
export function subscribeDefaults(options: SubscribeOptions): Required<SubscribeOptions> {
  const maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) {
    throw invalidOption(
      `subscribe to ${options.topic}: maxBatchSize is ${maxBatchSize}; expected a whole number of at least 1`,
    );
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw invalidOption(
      `subscribe to ${options.topic}: concurrency is ${concurrency}; expected a whole number of at least 1`,
    );
  }
  const lingerMs = options.lingerMs ?? 0;
  if (!Number.isInteger(lingerMs) || lingerMs < 0) {
    throw invalidOption(
      `subscribe to ${options.topic}: lingerMs is ${lingerMs}; expected a whole number of milliseconds, at least 0`,
    );
  }
  const commit = options.commit ?? 'on-return';
  if (commit !== 'on-return' && commit !== 'manual') {
    throw invalidOption(
      `subscribe to ${options.topic}: commit is ${JSON.stringify(commit)}; expected 'on-return' or 'manual'`,
    );
  }
  if (options.group === '') throw invalidOption(`subscribe to ${options.topic}: group must not be empty`);
  return { ...options, maxBatchSize, concurrency, lingerMs, commit, fromBeginning: options.fromBeginning ?? true };
}
