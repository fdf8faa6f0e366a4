import { setTimeout as sleep } from 'node:timers/promises';
import { failureKind } from './failure.ts';
import type { StoreError } from './store-error.ts';

/** How an insert that failed with a retryable error (failure.ts) is tried again: doubling delays, capped. */
export interface StoreRetry {
  /** Tries in all, the first included (at least 1). */
  attempts: number;
  initialMs: number;
  maxMs: number;
}

/**
 * A few seconds of tries in all; past them the caller fails its batch, which the bus
 * delivers again after its own backoff, so a long outage is waited out without
 * holding a batch in memory here.
 */
export const DEFAULT_STORE_RETRY: StoreRetry = { attempts: 5, initialMs: 100, maxMs: 2000 };

/** Delay before try `failures + 1`, after `failures` (≥ 1) retryable failures. */
export function retryDelay(failures: number, retry: StoreRetry): number {
  return Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(failures - 1, 30));
}

/** One item the store refused for good, with its place in the batch and the engine's error. */
export interface Refused<T> {
  item: T;
  index: number;
  error: StoreError;
}

export interface ResilientInsertOptions {
  retry?: StoreRetry;
  /** Told of each retry (for metrics and logs). */
  onRetry?: (error: StoreError, failures: number, delayMs: number) => void;
  /** Waits between tries (tests pass a clock of their own). */
  wait?: (ms: number) => Promise<void>;
}

/**
 * The token of the items `from`..`to` (indices in the whole batch) when a refused
 * batch is split: derived from the batch's own, so a replay of the batch that splits
 * the same way (the same rows are refused) sends every part under the same token.
 */
export function partToken(token: string | undefined, from: number, to: number): string | undefined {
  return token === undefined ? undefined : `${token}/${from}-${to}`;
}

/**
 * Inserts `items` through `insert`, so that the batch goes on whatever its rows hold:
 * - a retryable failure (failure.ts) is tried again, with the same token, after a
 *   capped backoff, up to `retry.attempts` tries; then it is thrown;
 * - a rejection splits the items in halves, each inserted (and, refused again, split)
 *   under a token derived from the batch's (partToken), until the single items the
 *   engine still refuses are known: those are returned, the rest are stored;
 * - any other failure (blocked: a missing table, a user who may not write) is thrown.
 * Bisection costs about 2·log2(n) inserts per refused item; a batch where every item
 * is refused costs about 2n.
 */
export async function insertResilient<T>(
  items: readonly T[],
  token: string | undefined,
  insert: (items: readonly T[], token: string | undefined) => Promise<void>,
  options: ResilientInsertOptions = {},
): Promise<Refused<T>[]> {
  const retry = options.retry ?? DEFAULT_STORE_RETRY;
  const wait = options.wait ?? ((ms: number) => sleep(ms));
  const refused: Refused<T>[] = [];
  const attempt = async (from: number, to: number, tokenOfPart: string | undefined): Promise<void> => {
    const part = from === 0 && to === items.length - 1 ? items : items.slice(from, to + 1);
    for (let failures = 0; ;) {
      try {
        await insert(part, tokenOfPart);
        return;
      } catch (err) {
        const kind = failureKind(err);
        if (kind === 'retryable' && ++failures < retry.attempts) {
          const delay = retryDelay(failures, retry);
          options.onRetry?.(err as StoreError, failures, delay);
          await wait(delay);
          continue;
        }
        if (kind !== 'rejected') throw err;
        if (from === to) {
          refused.push({ item: items[from]!, index: from, error: err as StoreError });
          return;
        }
        const mid = from + Math.ceil((to - from + 1) / 2);
        await attempt(from, mid - 1, partToken(token, from, mid - 1));
        await attempt(mid, to, partToken(token, mid, to));
        return;
      }
    }
  };
  if (items.length > 0) await attempt(0, items.length - 1, token);
  return refused;
}
