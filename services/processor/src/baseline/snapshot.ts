import { AispmError } from '@aispm/core';
import type { KeyFindings } from '../findings/lifecycle.ts';
import { WINDOW_FLOATS } from '../drift/window.ts';
import {
  ACTIVITY_FLOATS,
  NO_BLOCK,
  NUMERIC_FEATURES,
  type AgentBaseline,
  type BaselineContext,
  type NumericFeature,
} from './agent.ts';
import { offsetOf, type Arena } from './arena.ts';
import { MIX_FIELDS, intern, mixesFromJson, mixesToJson, type MixField, type MixJson } from './categorical.ts';
import { ENTITY_KINDS, isFleetEntity } from './view.ts';
import { sketchFromJson, sketchToJson, type SketchJson } from './sketch.ts';

/**
 * A key's baseline as bytes for the checkpoint (changelog topic or store) and
 * back: JSON with the arena blocks written out as plain arrays, readable when an
 * operator inspects the changelog, and versioned by `v` so a later layout can
 * read or refuse an older one explicitly.
 */
type Scalars = Pick<
  AgentBaseline,
  | 'tenant'
  | 'app'
  | 'entity'
  | 'events'
  | 'firstMs'
  | 'lastMs'
  | 'landmarkMs'
  | 'minute'
  | 'minuteCount'
  | 'prev'
  | 'rejected'
  | 'sources'
>;

interface BaselineJson extends Scalars {
  v: 2;
  activity: number[];
  numeric: Record<NumericFeature, SketchJson>;
  mixes: Record<MixField, MixJson>;
  /** Detector memos and open findings; absent in snapshots from before detections. */
  findings?: KeyFindings;
  /** startMs is null for a window never opened (JSON has no -Infinity); bins null while learning. */
  window: { startMs: number | null; events: number; bins: number[] | null };
}

const VERSION = 2;

export function encodeBaseline(state: AgentBaseline, arena: Arena): Buffer {
  const { activity, numeric, window } = state;
  const json: BaselineJson = {
    v: VERSION,
    tenant: state.tenant,
    app: state.app,
    entity: state.entity,
    events: state.events,
    firstMs: state.firstMs,
    lastMs: state.lastMs,
    landmarkMs: state.landmarkMs,
    minute: state.minute,
    minuteCount: state.minuteCount,
    prev: state.prev,
    rejected: state.rejected,
    sources: state.sources,
    activity: block(arena, activity),
    numeric: Object.fromEntries(NUMERIC_FEATURES.map((f) => [f, sketchToJson(arena, numeric[f])])) as Record<
      NumericFeature,
      SketchJson
    >,
    mixes: mixesToJson(arena, state),
    window: {
      startMs: Number.isFinite(window.startMs) ? window.startMs : null,
      events: window.events,
      bins: window.bins === NO_BLOCK ? null : block(arena, window.bins),
    },
    ...(state.findings ? { findings: state.findings } : {}),
  };
  return Buffer.from(JSON.stringify(json));
}

export function decodeBaseline(key: string, bytes: Buffer, { arena }: BaselineContext): AgentBaseline {
  let json: BaselineJson;
  try {
    json = JSON.parse(bytes.toString('utf8')) as BaselineJson;
  } catch (err) {
    throw new AispmError(
      'state_unreadable',
      `baseline snapshot of ${key} is not valid JSON; drop it from the changelog to relearn the key`,
      { cause: err },
    );
  }
  const problem = layoutProblem(json);
  if (problem)
    throw new AispmError(
      'state_version',
      `baseline snapshot of ${key} has layout v=${String((json as { v?: unknown }).v)} (${problem}), this processor reads v=${VERSION}; drop it to relearn the key`,
    );
  const { numeric, window } = json;
  const { names, mixes } = mixesFromJson(arena, json.mixes);
  // The same property order as newAgentBaseline, so restored and new keys share one object shape.
  return {
    tenant: intern(json.tenant),
    app: intern(json.app),
    entity: json.entity,
    events: json.events,
    firstMs: json.firstMs,
    lastMs: json.lastMs,
    landmarkMs: json.landmarkMs,
    minute: json.minute,
    minuteCount: json.minuteCount,
    activity: fromArray(arena, json.activity),
    numeric: {
      input_tokens: sketchFromJson(arena, numeric.input_tokens),
      output_tokens: sketchFromJson(arena, numeric.output_tokens),
      latency: sketchFromJson(arena, numeric.latency),
    },
    names,
    mixes,
    prev: json.prev === null ? null : intern(json.prev),
    window: {
      startMs: window.startMs ?? Number.NEGATIVE_INFINITY,
      events: window.events,
      bins: window.bins === null ? NO_BLOCK : fromArray(arena, window.bins),
    },
    rejected: json.rejected,
    // Snapshots from before fleet entities have no sources: agents and apps keep none.
    sources: json.sources ?? (isFleetEntity(json.entity) ? {} : null),
    findings: json.findings ?? null,
  };
}

/** What makes this JSON unreadable as a v2 baseline, or null. */
function layoutProblem(json: BaselineJson): string | null {
  if (typeof json !== 'object' || json === null) return 'not an object';
  if (json.v !== VERSION) return 'unknown version';
  if (!ENTITY_KINDS.includes(json.entity)) return 'entity';
  if (!isNumbers(json.activity, ACTIVITY_FLOATS)) return 'activity';
  for (const f of NUMERIC_FEATURES) if (!isNumbers(json.numeric?.[f]?.bins)) return `sketch ${f}`;
  for (const field of MIX_FIELDS) {
    const mix = json.mixes?.[field];
    const n = mix?.names?.length;
    if (n === undefined || !isNumbers(mix?.weights, n) || !isNumbers(mix?.windows, n)) return `mix ${field}`;
  }
  const bins = json.window?.bins;
  if (bins === undefined || (bins !== null && !isNumbers(bins, WINDOW_FLOATS))) return 'drift window';
  return null;
}

const isNumbers = (value: unknown, length?: number): value is number[] =>
  Array.isArray(value) &&
  (length === undefined || value.length === length) &&
  value.every((x) => typeof x === 'number');

const block = (arena: Arena, h: number): number[] =>
  Array.from(arena.chunkOf(h).subarray(offsetOf(h), offsetOf(h) + arena.sizeOf(h)));

function fromArray(arena: Arena, values: number[]): number {
  const h = arena.alloc(values.length);
  arena.chunkOf(h).set(values, offsetOf(h));
  return h;
}
