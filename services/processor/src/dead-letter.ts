import type { InvalidRecordError, OutgoingRecord } from '@aispm/core';
import type { BusRecord } from '@aispm/bus';

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
