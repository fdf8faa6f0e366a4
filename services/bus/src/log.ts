import { describeError } from '@aispm/core';

/**
 * Where a bus reports what needs attention: a handler that failed (its batch will
 * be redelivered), or a Kafka client warning or error. Nothing below warn level
 * reaches it, so the default can write to stderr without flooding it.
 */
export type BusLog = (message: string, level: 'warn' | 'error') => void;

export const stderrBusLog: BusLog = (message, level) => console.error(`aispm bus ${level}: ${message}`);

/** The same words from both buses when a handler throws. */
export function handlerFailed(
  batch: { group: string; topic: string; partition: number; first: string; last: string },
  err: unknown,
  delayMs: number,
): string {
  return (
    `handler of group ${batch.group} failed on ${batch.topic}[${batch.partition}] offsets ${batch.first}-${batch.last}: ` +
    `${describeError(err)}; the batch stays uncommitted and is delivered again in ${delayMs} ms`
  );
}
