import { StoreError } from './store-error.ts';

/**
 * What a failed store operation means for its caller (the same on chdb and on a
 * ClickHouse server, both giving ClickHouse's error numbers as StoreError.engineCode):
 * - `retryable`: the engine or the way to it was busy or out of reach (network,
 *   timeouts, memory, too many parts, overloaded): the same insert, with the same
 *   dedup token, may succeed later;
 * - `rejected`: the engine refused what was sent (cannot parse, type mismatch, value
 *   out of range, a column the table lacks, too many partitions in one block…):
 *   sending it again fails again, but a part of the rows may go in (split the batch);
 * - `blocked`: nothing sent can go in until an operator acts (the table or database
 *   is missing, the user may not write, the store is closed): neither retried at once
 *   nor blamed on the rows; the caller fails and is tried again later.
 */
export type FailureKind = 'retryable' | 'rejected' | 'blocked';

/** ClickHouse error numbers (system.errors) of failures that pass. */
export const RETRYABLE_ENGINE_CODES: ReadonlySet<number> = new Set([
  3, // UNEXPECTED_END_OF_FILE: a connection cut mid-answer
  32, // ATTEMPT_TO_READ_AFTER_EOF: likewise
  159, // TIMEOUT_EXCEEDED
  160, // TOO_SLOW
  173, // CANNOT_ALLOCATE_MEMORY
  201, // QUOTA_EXCEEDED: until the quota's interval ends
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  218, // TABLE_IS_DROPPED: while a table is swapped
  225, // NO_ZOOKEEPER
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY: a replicated table without its Keeper session
  243, // NOT_ENOUGH_SPACE
  252, // TOO_MANY_PARTS: merges catch up
  279, // ALL_CONNECTION_TRIES_FAILED
  285, // TOO_FEW_LIVE_REPLICAS
  319, // UNKNOWN_STATUS_OF_INSERT: the dedup token makes a retry safe
  394, // QUERY_WAS_CANCELLED
  425, // SYSTEM_ERROR
  439, // CANNOT_SCHEDULE_TASK
  473, // DEADLOCK_AVOIDED
  574, // DISTRIBUTED_TOO_MANY_PENDING_BYTES
  735, // QUERY_WAS_CANCELLED_BY_CLIENT
  745, // SERVER_OVERLOADED
  999, // KEEPER_EXCEPTION
  1000, // POCO_EXCEPTION: the server's network layer
]);

/** ClickHouse error numbers of failures no row is to blame for. */
export const BLOCKED_ENGINE_CODES: ReadonlySet<number> = new Set([
  60, // UNKNOWN_TABLE: migrations not run (aispm migrate)
  81, // UNKNOWN_DATABASE
  164, // READONLY: the user may not write
  497, // ACCESS_DENIED
  516, // AUTHENTICATION_FAILED
]);

/** StoreError codes (clickhouse.ts, chdb.ts) raised without an engine number, and what they mean. */
const KIND_OF_CODE: Readonly<Record<string, FailureKind>> = {
  store_unreachable: 'retryable',
  store_timeout: 'retryable',
  store_request_failed: 'retryable',
  store_closed: 'blocked',
  store_auth_failed: 'blocked',
  store_open_failed: 'blocked',
  store_path_in_use: 'blocked',
  store_bad_row: 'rejected',
};

/**
 * The kind of a store failure (see FailureKind). An error that is not a StoreError
 * (a bug, or something thrown by a wrapper) is `blocked`: nothing says the rows are
 * at fault, and retrying it at once would not help.
 */
export function failureKind(err: unknown): FailureKind {
  if (!(err instanceof StoreError)) return 'blocked';
  const { engineCode } = err;
  if (engineCode !== undefined) {
    if (RETRYABLE_ENGINE_CODES.has(engineCode)) return 'retryable';
    if (BLOCKED_ENGINE_CODES.has(engineCode)) return 'blocked';
    return 'rejected';
  }
  return KIND_OF_CODE[err.code] ?? 'blocked';
}
