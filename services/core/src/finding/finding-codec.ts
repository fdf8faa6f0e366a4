import { createCodec, type AvroCodec } from '../event/codec.ts';
import type { Finding } from './finding.ts';

/** The record on aispm.findings.v1 (schemas/avro/finding.v1.avsc). */
export const createFindingCodec = (): AvroCodec<Finding> => createCodec<Finding>('finding');
