import { offsetOf, type Arena } from './arena.ts';

/**
 * Categorical mixes: the decayed weight of each value of one field (tools,
 * models, destinations, operations, users, identities, actions, action
 * transitions) seen by one entity, and each value's weight in the current drift
 * window.
 *
 * Cardinality is capped per mix: a full mix first evicts a value whose weight has
 * decayed below EVICT_SHARE of the total (forgotten anyway); otherwise the new value
 * is counted in `overflow` without being tracked. A mix with overflow is "open":
 * an unseen value there is not news, so novelty and rarity are not scored on it.
 * That bounds memory under a cardinality attack (random user ids) without letting
 * the attack make every later value look novel.
 *
 * Storage: a key's eight mixes share one arena block and one names array. The block
 * holds per mix a header [slots, total, overflow, overflow window], then per slot
 * [weight, window weight], mix after mix; names[] lists the slots' values in the same
 * order (interned, so a user or tool seen by thousands of keys is held once). A slot
 * number is the value's index in names[], across mixes. Most mixes hold one to five
 * values, so a key's mixes cost about 200 bytes.
 */
export interface MixOwner {
  names: string[];
  /** Arena handle of the mixes block. */
  mixes: number;
}

export const MIX_FIELDS = [
  'tool',
  'model',
  'destination',
  'operation',
  'user',
  'identity',
  'action',
  'transition',
] as const;
export type MixField = (typeof MIX_FIELDS)[number];
/** A mix's position in the block, by field. */
export const MIX = Object.fromEntries(MIX_FIELDS.map((field, i) => [field, i])) as Record<MixField, number>;

const SLOTS = 0;
const TOTAL = 1;
const OVERFLOW = 2;
const OVERFLOW_WINDOW = 3;
const MIX_HEADER = 4;
const HEADER = MIX_FIELDS.length * MIX_HEADER;
const W = 0;
const WIN = 1;
const SLOT = 2;
/** The block grows by this many slots at a time. */
const GROW_SLOTS = 4;
/** A tracked value under this share of its mix's weight may give its slot to a new value. */
const EVICT_SHARE = 1e-3;

const NO_NAMES: string[] = [];

/** An owner's empty mixes: one block and the shared empty names array. */
export const newMixes = (arena: Arena): MixOwner => ({ names: NO_NAMES, mixes: arena.alloc(HEADER) });

const header = (arena: Arena, owner: MixOwner, mix: number, field: number): number =>
  arena.chunkOf(owner.mixes)[offsetOf(owner.mixes) + mix * MIX_HEADER + field] as number;

/** Weight of everything the mix observed, overflow included. */
export const mixTotal = (arena: Arena, owner: MixOwner, mix: number): number => header(arena, owner, mix, TOTAL);
/** Weight of values that found no slot. */
export const mixOverflow = (arena: Arena, owner: MixOwner, mix: number): number => header(arena, owner, mix, OVERFLOW);
export const mixOverflowWindow = (arena: Arena, owner: MixOwner, mix: number): number =>
  header(arena, owner, mix, OVERFLOW_WINDOW);

/** The mix's slots: numbers first … end − 1. */
export function mixSlots(arena: Arena, owner: MixOwner, mix: number): { first: number; end: number } {
  const d = arena.chunkOf(owner.mixes);
  const o = offsetOf(owner.mixes);
  let first = 0;
  for (let m = 0; m < mix; m++) first += d[o + m * MIX_HEADER + SLOTS] as number;
  return { first, end: first + (d[o + mix * MIX_HEADER + SLOTS] as number) };
}

export const slotWeight = (arena: Arena, owner: MixOwner, slot: number): number =>
  arena.chunkOf(owner.mixes)[offsetOf(owner.mixes) + HEADER + slot * SLOT + W] as number;
export const slotWindow = (arena: Arena, owner: MixOwner, slot: number): number =>
  arena.chunkOf(owner.mixes)[offsetOf(owner.mixes) + HEADER + slot * SLOT + WIN] as number;

/** Slot of a value in a mix, or -1 when it is not tracked. */
export function slotOf(arena: Arena, owner: MixOwner, mix: number, value: string): number {
  const { first, end } = mixSlots(arena, owner, mix);
  const names = owner.names;
  for (let s = first; s < end; s++) if (names[s] === value) return s;
  return -1;
}

/** Weight observed in the current drift window, overflow included. */
export function mixWindow(arena: Arena, owner: MixOwner, mix: number): number {
  const { first, end } = mixSlots(arena, owner, mix);
  let sum = mixOverflowWindow(arena, owner, mix);
  for (let s = first; s < end; s++) sum += slotWindow(arena, owner, s);
  return sum;
}

/** True once values have been turned away: unseen values are then expected, not novel. */
export const isOpen = (arena: Arena, owner: MixOwner, mix: number): boolean =>
  mixOverflow(arena, owner, mix) > EVICT_SHARE * mixTotal(arena, owner, mix);

/** Adds one observation of `value` (at `slot`, from slotOf) with forward-decay weight `weight`; returns its slot, or -1 if it overflowed. */
export function addToMix(
  arena: Arena,
  owner: MixOwner,
  mix: number,
  value: string,
  slot: number,
  weight: number,
  cap: number,
): number {
  if (slot < 0) slot = admit(arena, owner, mix, value, cap);
  const d = arena.chunkOf(owner.mixes);
  const o = offsetOf(owner.mixes);
  const h = o + mix * MIX_HEADER;
  d[h + TOTAL] = (d[h + TOTAL] as number) + weight;
  if (slot < 0) {
    d[h + OVERFLOW] = (d[h + OVERFLOW] as number) + weight;
    d[h + OVERFLOW_WINDOW] = (d[h + OVERFLOW_WINDOW] as number) + weight;
    return -1;
  }
  const at = o + HEADER + slot * SLOT;
  d[at + W] = (d[at + W] as number) + weight;
  d[at + WIN] = (d[at + WIN] as number) + weight;
  return slot;
}

/** A slot for a new value: a fresh one while under the cap, else a negligible one's; -1 when the mix is full. */
function admit(arena: Arena, owner: MixOwner, mix: number, value: string, cap: number): number {
  const { first, end } = mixSlots(arena, owner, mix);
  if (end - first >= cap) {
    const slot = weakestSlot(arena, owner, mix, first, end);
    if (slot >= 0) owner.names[slot] = intern(value);
    return slot;
  }
  insertSlot(arena, owner, mix, end, intern(value));
  return end;
}

/** Opens slot `at` (the end of `mix`), moving the later mixes' slots up. */
function insertSlot(arena: Arena, owner: MixOwner, mix: number, at: number, value: string): void {
  const slots = owner.names.length;
  if (arena.sizeOf(owner.mixes) < HEADER + (slots + 1) * SLOT)
    owner.mixes = arena.resize(owner.mixes, HEADER + Math.ceil((slots + 1) / GROW_SLOTS) * GROW_SLOTS * SLOT);
  const d = arena.chunkOf(owner.mixes);
  const o = offsetOf(owner.mixes) + HEADER;
  d.copyWithin(o + (at + 1) * SLOT, o + at * SLOT, o + slots * SLOT);
  d.fill(0, o + at * SLOT, o + (at + 1) * SLOT);
  const h = offsetOf(owner.mixes) + mix * MIX_HEADER + SLOTS;
  d[h] = (d[h] as number) + 1;
  // An exact-size copy: splice would leave V8's spare capacity in every key's array.
  const names = new Array<string>(slots + 1);
  for (let s = 0; s < at; s++) names[s] = owner.names[s] as string;
  names[at] = value;
  for (let s = at; s < slots; s++) names[s + 1] = owner.names[s] as string;
  owner.names = names;
}

/** The lowest-weight slot if it is negligible, else -1; its weight moves to overflow so totals stay true. */
function weakestSlot(arena: Arena, owner: MixOwner, mix: number, first: number, end: number): number {
  let best = -1;
  let bestWeight = Infinity;
  for (let s = first; s < end; s++) {
    const w = slotWeight(arena, owner, s);
    if (w < bestWeight) {
      bestWeight = w;
      best = s;
    }
  }
  if (best < 0 || bestWeight > EVICT_SHARE * mixTotal(arena, owner, mix)) return -1;
  const d = arena.chunkOf(owner.mixes);
  const o = offsetOf(owner.mixes);
  const h = o + mix * MIX_HEADER;
  const at = o + HEADER + best * SLOT;
  d[h + OVERFLOW] = (d[h + OVERFLOW] as number) + bestWeight;
  d[h + OVERFLOW_WINDOW] = (d[h + OVERFLOW_WINDOW] as number) + (d[at + WIN] as number);
  d[at + W] = 0;
  d[at + WIN] = 0;
  return best;
}

/** Starts a new drift window: window weights back to zero. */
export function resetMixWindows(arena: Arena, owner: MixOwner): void {
  const d = arena.chunkOf(owner.mixes);
  const o = offsetOf(owner.mixes);
  for (let m = 0; m < MIX_FIELDS.length; m++) d[o + m * MIX_HEADER + OVERFLOW_WINDOW] = 0;
  const end = o + HEADER + owner.names.length * SLOT;
  for (let at = o + HEADER + WIN; at < end; at += SLOT) d[at] = 0;
}

/** Multiplies every weight by `factor` (rescaling forward-decay weights). */
export function scaleMixes(arena: Arena, owner: MixOwner, factor: number): void {
  const d = arena.chunkOf(owner.mixes);
  const o = offsetOf(owner.mixes);
  for (let m = 0; m < MIX_FIELDS.length; m++)
    for (const field of [TOTAL, OVERFLOW, OVERFLOW_WINDOW]) {
      const at = o + m * MIX_HEADER + field;
      d[at] = (d[at] as number) * factor;
    }
  const end = o + HEADER + owner.names.length * SLOT;
  for (let at = o + HEADER; at < end; at++) d[at] = (d[at] as number) * factor;
}

/** A mix as snapshots hold it. */
export interface MixJson {
  names: string[];
  weights: number[];
  windows: number[];
  total: number;
  overflow: number;
  overflowWindow: number;
}

export function mixesToJson(arena: Arena, owner: MixOwner): Record<MixField, MixJson> {
  const out = {} as Record<MixField, MixJson>;
  MIX_FIELDS.forEach((field, mix) => {
    const { first, end } = mixSlots(arena, owner, mix);
    const slots = Array.from({ length: end - first }, (_, i) => first + i);
    out[field] = {
      names: owner.names.slice(first, end),
      weights: slots.map((s) => slotWeight(arena, owner, s)),
      windows: slots.map((s) => slotWindow(arena, owner, s)),
      total: mixTotal(arena, owner, mix),
      overflow: mixOverflow(arena, owner, mix),
      overflowWindow: mixOverflowWindow(arena, owner, mix),
    };
  });
  return out;
}

export function mixesFromJson(arena: Arena, json: Record<MixField, MixJson>): MixOwner {
  const names = MIX_FIELDS.flatMap((field) => json[field].names.map(intern));
  const mixes = arena.alloc(HEADER + Math.ceil(names.length / GROW_SLOTS) * GROW_SLOTS * SLOT);
  const d = arena.chunkOf(mixes);
  const o = offsetOf(mixes);
  let slot = 0;
  MIX_FIELDS.forEach((field, mix) => {
    const m = json[field];
    const h = o + mix * MIX_HEADER;
    d[h + SLOTS] = m.names.length;
    d[h + TOTAL] = m.total;
    d[h + OVERFLOW] = m.overflow;
    d[h + OVERFLOW_WINDOW] = m.overflowWindow;
    m.names.forEach((_, i) => {
      d[o + HEADER + slot * SLOT + W] = m.weights[i] as number;
      d[o + HEADER + slot * SLOT + WIN] = m.windows[i] as number;
      slot++;
    });
  });
  return { names: names.length === 0 ? NO_NAMES : names, mixes };
}

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
