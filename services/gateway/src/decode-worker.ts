import { parentPort, workerData } from 'node:worker_threads';
import {
  createEventCodec,
  createGenAiLogCodec,
  createGenAiMetricCodec,
  warmContentScanner,
  type CaptureOptions,
} from '@aispm/core';
import { decodeAndMap, packRecords, type Decoded, type Encoding, type PackedRecords } from './decode.ts';
import { UndecodableBody } from './otlp/proto.ts';
import type { Signal } from './otlp/signals.ts';

/**
 * A decode worker's thread (DecodePool): decodeAndMap on bodies the main thread hands over.
 */
export interface DecodeWorkerData {
  capture: CaptureOptions;
}

export interface DecodeTask {
  id: number;
  body: Uint8Array;
  encoding: Encoding;
  tenant: string;
  nowMs: number;
  signal?: Signal;
}

export type DecodeReply =
  | {
      id: number;
      ok: true;
      packed: PackedRecords;
      packedDirect: PackedRecords;
      ignored: number;
      links: number;
      merged: number;
      rejected: Decoded['rejected'];
      dropped?: Decoded['dropped'];
    }
  | { id: number; ok: false; undecodable: boolean; message: string }
  /** Sent once, when the worker has loaded its modules and takes tasks. */
  | { ready: true };

const port = parentPort;
if (port) {
  const { capture } = workerData as DecodeWorkerData;
  warmContentScanner(capture.detect);
  const codec = createEventCodec();
  const logCodec = createGenAiLogCodec();
  const metricCodec = createGenAiMetricCodec();
  port.on('message', (task: DecodeTask) => {
    let reply: DecodeReply;
    try {
      const { records, direct, ignored, links, merged, rejected, dropped } = decodeAndMap(task.body, task.encoding, {
        tenant: task.tenant,
        capture,
        codec,
        nowMs: task.nowMs,
        signal: task.signal,
        logCodec,
        metricCodec,
      });
      const packed = packRecords(records);
      const packedDirect = packRecords(direct);
      reply = { id: task.id, ok: true, packed, packedDirect, ignored, links, merged, rejected, dropped };
      port.postMessage(reply, [
        packed.values,
        packed.ends.buffer as ArrayBuffer,
        packedDirect.values,
        packedDirect.ends.buffer as ArrayBuffer,
      ]);
    } catch (err) {
      reply = { id: task.id, ok: false, undecodable: err instanceof UndecodableBody, message: (err as Error).message };
      port.postMessage(reply);
    }
  });
  port.postMessage({ ready: true } satisfies DecodeReply);
}
