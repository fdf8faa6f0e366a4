import type { AiEvent, AvroCodec } from '@aispm/core';
import type { AgentContext, TraceSnapshot } from './assembler.ts';

interface Encoded {
  tenant: string;
  lastMs: number;
  spans: [id: string, parent: string | null, agent: AgentContext | null][];
  waiting: [event: string, arrivedMs: number, from: string[]][];
}

/**
 * A trace's checkpoint: JSON, with each waiting event in its Avro record (base64),
 * so that the event schema's evolution applies to checkpoints as to the topic.
 */
export function encodeTraceSnapshot(snapshot: TraceSnapshot, codec: AvroCodec<AiEvent>): Buffer {
  const encoded: Encoded = {
    tenant: snapshot.tenant,
    lastMs: snapshot.lastMs,
    spans: snapshot.spans.map((s) => [s.id, s.parent, s.agent]),
    waiting: snapshot.waiting.map((w) => [codec.encode(w.event).toString('base64'), w.arrivedMs, w.from]),
  };
  return Buffer.from(JSON.stringify(encoded));
}

export function decodeTraceSnapshot(bytes: Buffer, codec: AvroCodec<AiEvent>): TraceSnapshot {
  const encoded = JSON.parse(bytes.toString('utf8')) as Encoded;
  return {
    tenant: encoded.tenant,
    lastMs: encoded.lastMs,
    spans: encoded.spans.map(([id, parent, agent]) => ({ id, parent, agent })),
    waiting: encoded.waiting.map(([event, arrivedMs, from]) => ({
      event: codec.decode(Buffer.from(event, 'base64')),
      arrivedMs,
      from,
    })),
  };
}
