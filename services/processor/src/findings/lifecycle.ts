import { type Finding, SEVERITIES } from '@aispm/core';

/**
 * The findings lifecycle (issue 21): a finding's id is its stable fingerprint,
 * so every occurrence record of it merges into one finding (the store's
 * AggregatingMergeTree, consumers by id): open → updated (occurrences summed,
 * last seen max, severity max) → resolved once its asset has gone a quiet period
 * of event time without another occurrence. A later occurrence opens it again.
 *
 * The open findings of a key live in the key's state, checkpointed with its
 * baseline, so a restart or rebalance resolves exactly what an uninterrupted run
 * would. Resolution is judged by event time (the sweep that closes drift windows
 * runs it), never by the wall clock, so a replay resolves the same.
 */
export interface OpenFinding {
  /** Everything a resolved record repeats, small. */
  type: string;
  rule: string;
  asset: string;
  asset_type: string;
  title: string;
  severity: Finding['severity'];
  score: number;
  owasp_llm: string[];
  owasp_agentic: string[];
  mitre_atlas: string[];
  model: string;
  first_seen: number;
  last_seen: number;
  /**
   * The latest occurrence's evidence and events (bounded by the Finding contract):
   * the store keeps the newest record's, so a resolved record repeats them rather
   * than blanking what an analyst pivots on.
   */
  evidence: string[];
  event_ids: string[];
}

/** The lifecycle state of one key: its detectors' memos and its open findings. */
export interface KeyFindings {
  memos: Record<string, unknown>;
  open: Record<string, OpenFinding>;
}

export const newKeyFindings = (): KeyFindings => ({ memos: {}, open: {} });

/** Open findings kept per key at most; past it the longest-quiet is forgotten (not resolved: it may still be live). */
export const MAX_OPEN_PER_KEY = 64;

/** Records an occurrence: the finding is open (again) from here on. */
export function track(state: KeyFindings, f: Finding): void {
  const seen = state.open[f.id];
  if (seen) {
    seen.last_seen = Math.max(seen.last_seen, f.last_seen);
    seen.first_seen = Math.min(seen.first_seen, f.first_seen);
    if (SEVERITIES.indexOf(f.severity) > SEVERITIES.indexOf(seen.severity)) seen.severity = f.severity;
    seen.score = Math.max(seen.score, f.score);
    if (f.last_seen >= seen.last_seen) {
      seen.evidence = f.evidence;
      seen.event_ids = f.event_ids;
    }
    return;
  }
  const ids = Object.keys(state.open);
  if (ids.length >= MAX_OPEN_PER_KEY) {
    let oldest = ids[0]!;
    for (const id of ids) if (state.open[id]!.last_seen < state.open[oldest]!.last_seen) oldest = id;
    delete state.open[oldest];
  }
  state.open[f.id] = {
    type: f.type,
    rule: f.rule,
    asset: f.asset,
    asset_type: f.asset_type,
    title: f.title,
    severity: f.severity,
    score: f.score,
    owasp_llm: f.owasp_llm,
    owasp_agentic: f.owasp_agentic,
    mitre_atlas: f.mitre_atlas,
    model: f.model,
    first_seen: f.first_seen,
    last_seen: f.last_seen,
    evidence: f.evidence,
    event_ids: f.event_ids,
  };
}

/**
 * The resolved records of the key's findings quiet since before `quietBeforeMicros`
 * (event time), removed from the open set. A resolved record carries no occurrence,
 * so merged counts stay those of the open records; it repeats the last evidence.
 */
export function resolveQuiet(state: KeyFindings, tenant: string, quietBeforeMicros: number): Finding[] {
  const resolved: Finding[] = [];
  for (const [id, f] of Object.entries(state.open)) {
    if (f.last_seen >= quietBeforeMicros) continue;
    delete state.open[id];
    resolved.push({ id, tenant, ...f, occurrences: 0, status: 'resolved' });
  }
  return resolved;
}

export const hasOpen = (state: KeyFindings | null): boolean => state !== null && Object.keys(state.open).length > 0;
