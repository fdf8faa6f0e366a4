import { createRequire } from 'node:module';
import type { PartitionMetadata } from 'kafkajs';

/** Test support for the kafkajs fixes: the upstream code to compare them with. */
const require = createRequire(import.meta.url);

/** A kafkajs module as shipped, read apart from the module cache so an installed fix does not stand in for it. */
export function upstreamModule<T>(id: string): T {
  const path = require.resolve(id);
  const cached = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as T;
  } finally {
    if (cached) require.cache[path] = cached;
    else delete require.cache[path];
  }
}

/** Metadata of a topic with `n` partitions, all led by broker 0. */
export const partitionMetadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
