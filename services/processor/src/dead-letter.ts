import type { InvalidRecordError, OutgoingRecord } from '@aispm/core';
import type { BusRecord } from '@aispm/bus';
import type { StoreError } from '@aispm/store';

/** The dead-letter code of a row the store refused for good (its engine error in the reason). */
export const STORE_REJECTED = 'store_rejected';

/** A record for the dead-letter topic: the record as it came, with why and where from in its headers. */
export function deadLetter(record: BusRecord, err: InvalidRecordError): OutgoingRecord {
  return {
    key: record.key,
    value: record.value,
    headers: {
      ...record.headers,
      'aispm.dlq.code': err.code,
      'aispm.dlq.reason': err.message,
      'aispm.dlq.source': `${record.topic}/${record.partition}/${record.offset}`,
    },
  };
}

/** Characters of an engine error kept in a dead letter's reason: enough for the cause, not a dump of the rows parsed. */
const MAX_REASON = 2000;

/** Where a refused row came from, for its dead letter. */
export interface RowOrigin {
  topic: string;
  partition: number;
  /** The offset of the record the row was made from; none for a row of the batch as a whole (drift, a resolution). */
  offset?: string;
}

/**
 * A record for the dead-letter topic carrying a row the store refused for good: `value`
 * is the row as the pipeline holds it elsewhere (an event's record as it came, a score
 * or finding as published, or the row's JSON), and the headers say which table refused
 * it, the engine's error and number, and where it came from. The batch went on without it.
 */
export function storeDeadLetter(
  key: string,
  value: Buffer,
  table: string,
  err: StoreError,
  origin: RowOrigin,
): OutgoingRecord {
  return {
    key,
    value,
    headers: {
      'aispm.dlq.code': STORE_REJECTED,
      'aispm.dlq.reason': err.message.length > MAX_REASON ? `${err.message.slice(0, MAX_REASON)}…` : err.message,
      'aispm.dlq.table': table,
      ...(err.engineCode === undefined ? {} : { 'aispm.dlq.engine_code': String(err.engineCode) }),
      'aispm.dlq.source': `${origin.topic}/${origin.partition}${origin.offset === undefined ? '' : `/${origin.offset}`}`,
    },
  };
}
