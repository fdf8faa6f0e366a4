/**
 * A categorical mix: the decayed weight of each value of one field (tools,
 * models, destinations, operations, users, identities, action transitions) seen
 * by one entity, with when each value was first and last seen and its weight in
 * the current drift window.
 *
 * Cardinality is capped per mix: a full mix first evicts a value whose weight has
 * decayed below EVICT_SHARE of the total (forgotten anyway); otherwise the new value
 * is counted in `overflow` without being tracked. A mix with overflow is "open":
 * an unseen value there is not news, so novelty and rarity are not scored on it.
 * That bounds memory under a cardinality attack (random user ids) without letting
 * the attack make every later value look novel.
 *
 * Slots are parallel plain arrays: names[] (interned, so a user or tool name seen
 * by thousands of entities is held once) and a number[] of 3 per slot followed by
 * the mix's 4 totals, which V8 stores unboxed (8 bytes a number) without the ~200
 * bytes a typed array costs per instance, nor the boxed number (~24 bytes) a double
 * property costs; most mixes hold one to five values. A mix that has seen nothing
 * shares one empty names array.
 */
export class CategoryMix {
  names: string[] = NO_NAMES;
  /** Per slot: weight, window weight, first seen (minuteOf); then TOTAL, WINDOW, OVERFLOW, OVERFLOW_WINDOW. */
  stats: number[] = [0, 0, 0, 0];

  /** Weight of everything observed, overflow included. */
  get total(): number {
    return this.stats[this.names.length * STRIDE + TOTAL] as number;
  }
  set total(value: number) {
    this.stats[this.names.length * STRIDE + TOTAL] = value;
  }
  /** Weight observed in the current drift window, overflow included. */
  get window(): number {
    return this.stats[this.names.length * STRIDE + WINDOW] as number;
  }
  set window(value: number) {
    this.stats[this.names.length * STRIDE + WINDOW] = value;
  }
  /** Weight of values that found no slot. */
  get overflow(): number {
    return this.stats[this.names.length * STRIDE + OVERFLOW] as number;
  }
  set overflow(value: number) {
    this.stats[this.names.length * STRIDE + OVERFLOW] = value;
  }
  get overflowWindow(): number {
    return this.stats[this.names.length * STRIDE + OVERFLOW_WINDOW] as number;
  }
  set overflowWindow(value: number) {
    this.stats[this.names.length * STRIDE + OVERFLOW_WINDOW] = value;
  }

  /** The snapshot layout (v1): slot stats, then the totals as named fields. */
  toJSON(): CategoryMixJson {
    return {
      names: this.names,
      stats: this.stats.slice(0, this.names.length * STRIDE),
      total: this.total,
      window: this.window,
      overflow: this.overflow,
      overflowWindow: this.overflowWindow,
    };
  }
}

/** A mix as snapshots (v1) hold it. */
export interface CategoryMixJson {
  names: string[];
  stats: number[];
  total: number;
  window: number;
  overflow: number;
  overflowWindow: number;
}

/** A mix from its snapshot form (v1). */
export function mixFromJson(json: CategoryMixJson): CategoryMix {
  const mix = new CategoryMix();
  const slots = json.names.length;
  if (slots > 0) {
    const stats = new Array<number>(slots * STRIDE + HEADER);
    for (let j = 0; j < slots * STRIDE; j++) stats[j] = json.stats[j] as number;
    mix.names = json.names.map(intern);
    mix.stats = stats;
  }
  mix.total = json.total;
  mix.window = json.window;
  mix.overflow = json.overflow;
  mix.overflowWindow = json.overflowWindow;
  return mix;
}

const NO_NAMES: string[] = [];
const TOTAL = 0;
const WINDOW = 1;
const OVERFLOW = 2;
const OVERFLOW_WINDOW = 3;
const HEADER = 4;

export const W = 0;
export const WIN = 1;
export const FIRST_MINUTE = 2;
export const STRIDE = 3;
const EPOCH_2020_MS = Date.UTC(2020, 0, 1);
/** Whole minutes since 2020-01-01 UTC. */
export const minuteOf = (timeMs: number): number => Math.floor((timeMs - EPOCH_2020_MS) / 60_000);

/** Distinct strings shared across all mixes of the process; past this many, new strings are kept as they come. */
const INTERN_LIMIT = 200_000;
const interned = new Map<string, string>();

/** The process-wide copy of a string, so equal names held by many entities cost one string. */
export function intern(value: string): string {
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size < INTERN_LIMIT) interned.set(value, value);
  return value;
}

/** A tracked value under this share of its mix's weight may give its slot to a new value. */
const EVICT_SHARE = 1e-3;

export const emptyMix = (): CategoryMix => new CategoryMix();

/** Slot of a value, or -1 when it is not tracked. */
export const slotOf = (mix: CategoryMix, value: string): number => mix.names.indexOf(value);

export const slotStat = (mix: CategoryMix, slot: number, field: number): number =>
  mix.stats[slot * STRIDE + field] as number;

/** Adds one observation of `value` with forward-decay weight `weight`; returns its slot, or -1 if it overflowed. */
export function addToMix(
  mix: CategoryMix,
  value: string,
  slot: number,
  weight: number,
  timeMs: number,
  cap: number,
): number {
  mix.total += weight;
  mix.window += weight;
  if (slot < 0) slot = admit(mix, value, timeMs, cap);
  if (slot < 0) {
    mix.overflow += weight;
    mix.overflowWindow += weight;
    return -1;
  }
  const at = slot * STRIDE;
  const stats = mix.stats;
  stats[at + W] = (stats[at + W] as number) + weight;
  stats[at + WIN] = (stats[at + WIN] as number) + weight;
  return slot;
}

function admit(mix: CategoryMix, value: string, timeMs: number, cap: number): number {
  let slot = mix.names.length;
  if (slot >= cap) {
    slot = weakestSlot(mix);
    if (slot < 0) return -1;
  }
  if (slot === mix.names.length) {
    // Exact-size copies: push would leave V8's spare capacity (16+ elements) in every mix, and
    // concat returns generic elements that box each number (measured: 60 vs 28 bytes a slot).
    const names = new Array<string>(slot + 1);
    const stats = new Array<number>(mix.stats.length + STRIDE);
    for (let j = 0; j < slot; j++) names[j] = mix.names[j] as string;
    for (let j = 0; j < slot * STRIDE; j++) stats[j] = mix.stats[j] as number;
    // The totals move up behind the new slot.
    for (let j = 0; j < HEADER; j++) stats[(slot + 1) * STRIDE + j] = mix.stats[slot * STRIDE + j] as number;
    names[slot] = intern(value);
    stats[slot * STRIDE + W] = 0;
    stats[slot * STRIDE + WIN] = 0;
    stats[slot * STRIDE + FIRST_MINUTE] = minuteOf(timeMs);
    mix.names = names;
    mix.stats = stats;
    return slot;
  }
  mix.names[slot] = intern(value);
  const at = slot * STRIDE;
  mix.stats[at + W] = 0;
  mix.stats[at + WIN] = 0;
  mix.stats[at + FIRST_MINUTE] = minuteOf(timeMs);
  return slot;
}

/** The lowest-weight slot if it is negligible, else -1; its weight moves to overflow so totals stay true. */
function weakestSlot(mix: CategoryMix): number {
  let best = -1;
  let bestWeight = Infinity;
  for (let s = 0; s < mix.names.length; s++) {
    const w = mix.stats[s * STRIDE + W] as number;
    if (w < bestWeight) {
      bestWeight = w;
      best = s;
    }
  }
  if (best < 0 || bestWeight > EVICT_SHARE * mix.total) return -1;
  mix.overflow += bestWeight;
  mix.overflowWindow += mix.stats[best * STRIDE + WIN] as number;
  return best;
}

/** True once values have been turned away: unseen values are then expected, not novel. */
export const isOpen = (mix: CategoryMix): boolean => mix.overflow > EVICT_SHARE * mix.total;

/** Starts a new drift window: window weights back to zero. */
export function resetMixWindow(mix: CategoryMix): void {
  mix.window = 0;
  mix.overflowWindow = 0;
  const end = mix.names.length * STRIDE;
  for (let at = WIN; at < end; at += STRIDE) mix.stats[at] = 0;
}

export function scaleMix(mix: CategoryMix, factor: number): void {
  mix.total *= factor;
  mix.window *= factor;
  mix.overflow *= factor;
  mix.overflowWindow *= factor;
  const end = mix.names.length * STRIDE;
  for (let at = 0; at < end; at += STRIDE) {
    mix.stats[at + W] = (mix.stats[at + W] as number) * factor;
    mix.stats[at + WIN] = (mix.stats[at + WIN] as number) * factor;
  }
}
