import { createHash } from 'node:crypto';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type FindingStatus = 'open' | 'resolved' | 'suppressed';

/**
 * The Finding contract (DESIGN.md): one occurrence record of a problem on an asset.
 * Records with the same id are the same finding seen again; the store and
 * consumers merge them (first_seen min, last_seen max, occurrences summed).
 */
export interface Finding {
  id: string;
  tenant: string;
  asset: string;
  asset_type: string;
  type: string;
  rule: string;
  severity: Severity;
  score: number;
  title: string;
  /** Redacted plain-words reasons. */
  evidence: string[];
  event_ids: string[];
  /** Microseconds since the epoch. */
  first_seen: number;
  last_seen: number;
  occurrences: number;
  status: FindingStatus;
  owasp_llm: string[];
  /** OWASP Top 10 for Agentic Applications (2026) ids, where one fits. */
  owasp_agentic: string[];
  mitre_atlas: string[];
  model: string;
}

/**
 * Stable id: the same type of problem from the same rule on the same asset gets
 * the same id across events, restarts and processes, so occurrences merge into
 * one finding and a later "resolved" record can name it.
 */
export function findingId(tenant: string, type: string, asset: string, rule: string): string {
  return createHash('sha256').update(`${tenant}\u0000${type}\u0000${asset}\u0000${rule}`).digest('hex').slice(0, 32);
}

/** Folds a later occurrence of the same finding into an earlier one. */
export function mergeFinding(a: Finding, b: Finding): Finding {
  const stronger = b.score > a.score ? b : a;
  return {
    ...stronger,
    severity: SEVERITIES.indexOf(b.severity) > SEVERITIES.indexOf(a.severity) ? b.severity : a.severity,
    first_seen: Math.min(a.first_seen, b.first_seen),
    last_seen: Math.max(a.last_seen, b.last_seen),
    occurrences: a.occurrences + b.occurrences,
    event_ids: [...new Set([...a.event_ids, ...b.event_ids])].slice(0, MAX_EVENT_IDS),
  };
}

/** Event ids carried per record: enough to pivot to the events, bounded so a storm stays small. */
export const MAX_EVENT_IDS = 10;

/** Merges occurrences by id, keeping first-seen order. */
export function dedupFindings(findings: Iterable<Finding>): Finding[] {
  const byId = new Map<string, Finding>();
  for (const f of findings) {
    const seen = byId.get(f.id);
    byId.set(f.id, seen ? mergeFinding(seen, f) : f);
  }
  return [...byId.values()];
}
