import { AispmError } from '@aispm/core';
import type { AgentBaseline, MixField } from './agent.ts';
import { mixFromJson } from './categorical.ts';
import type { Sketch } from './sketch.ts';

/**
 * A key's baseline as bytes for the checkpoint (changelog topic or store) and
 * back. JSON, with the typed arrays written as plain arrays: readable when an
 * operator inspects the changelog, and versioned by `v` so a later layout can
 * read or refuse an older one explicitly.
 */
export function encodeBaseline(state: AgentBaseline): Buffer {
  return Buffer.from(
    JSON.stringify(state, (_key, value: unknown) =>
      value instanceof Float32Array ? { f32: Array.from(value) } : value,
    ),
  );
}

export function decodeBaseline(key: string, bytes: Buffer): AgentBaseline {
  let state: AgentBaseline;
  try {
    state = JSON.parse(bytes.toString('utf8'), (_key, value: unknown) =>
      isPackedFloats(value) ? Float32Array.from(value.f32) : value,
    ) as AgentBaseline;
  } catch (err) {
    throw new AispmError(
      'state_unreadable',
      `baseline snapshot of ${key} is not valid JSON; drop it from the changelog to relearn the key`,
      {
        cause: err,
      },
    );
  }
  if (state.v !== 1 || !(state.hours instanceof Float32Array) || !isSketch(state.numeric?.output_tokens)) {
    throw new AispmError(
      'state_version',
      `baseline snapshot of ${key} has layout v=${String(state.v)}, this processor reads v=1; drop it to relearn the key`,
    );
  }
  // Mixes are written in their v1 form (CategoryMix.toJSON) and read back into the packed one.
  for (const field of Object.keys(state.mixes) as MixField[]) state.mixes[field] = mixFromJson(state.mixes[field]);
  // JSON has no -Infinity: a window that was never opened comes back as null.
  state.window.startMs ??= Number.NEGATIVE_INFINITY;
  return state;
}

const isPackedFloats = (value: unknown): value is { f32: number[] } =>
  typeof value === 'object' && value !== null && Array.isArray((value as { f32?: unknown }).f32);

const isSketch = (value: unknown): value is Sketch =>
  typeof value === 'object' && value !== null && (value as Sketch).bins instanceof Float32Array;
