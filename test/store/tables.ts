import type { Store } from '@aispm/store';

/** The tables the processor writes with deduplication tokens (migration 013). */
export const WRITTEN_TABLES = [
  'events',
  'anomaly_scores',
  'findings',
  'drift_reports',
  'genai_log_events',
  'genai_metrics',
] as const;

/** The per-minute rollups (migration 014) and what each row of theirs says, read with the -Merge functions. */
const ROLLUPS = {
  events_per_minute: {
    keys: 'tenant, minute, app, agent, model, kind',
    values:
      'countMerge(events) AS events, sumMerge(errors) AS errors, sumMerge(input_tokens) AS input_tokens, sumMerge(output_tokens) AS output_tokens',
  },
  anomaly_scores_per_minute: {
    keys: 'tenant, minute, app, agent, entity_type',
    values:
      'countMerge(scores) AS scores, sumMerge(flagged) AS flagged, sumMerge(learning_scores) AS learning_scores, maxMerge(max_score) AS max_score',
  },
  findings_per_minute: {
    keys: 'tenant, minute, type, severity, status',
    values:
      'countMerge(records) AS records, sumMerge(occurrences) AS occurrences, uniqExactMerge(findings) AS findings',
  },
} as const;

export type Snapshot = Record<string, unknown>;

export interface SnapshotOptions {
  /** false: leave out the findings' resolution records (status 'resolved'), in the table and its rollup. */
  resolutions?: boolean;
}

/**
 * What a store holds, for comparing two runs: each written table's raw row count (no
 * FINAL: a duplicate shows until a merge folds it), every finding's summed
 * occurrences (which a merge never hides), the assets' distinct event counts, and
 * every rollup row.
 */
export async function snapshot(store: Store, options: SnapshotOptions = {}): Promise<Snapshot> {
  const out: Snapshot = {};
  const open = options.resolutions === false;
  for (const table of WRITTEN_TABLES) {
    const where = open && table === 'findings' ? " WHERE status != 'resolved'" : '';
    const [row] = await store.query<{ n: string }>(`SELECT count() AS n FROM ${table}${where}`);
    out[table] = Number(row?.n ?? 0);
  }
  out.finding_occurrences = await store.query(
    `SELECT tenant, id, sum(occurrences) AS occurrences, count() AS records FROM findings
     ${open ? "WHERE status != 'resolved'" : ''} GROUP BY tenant, id ORDER BY tenant, id`,
  );
  out.assets = await store.query(
    'SELECT tenant, kind, name, uniqCombined64Merge(14)(events) AS events FROM assets GROUP BY tenant, kind, name ORDER BY tenant, kind, name',
  );
  for (const [table, { keys, values }] of Object.entries(ROLLUPS)) {
    const where = open && table === 'findings_per_minute' ? " WHERE status != 'resolved'" : '';
    out[table] = await store.query(`SELECT ${keys}, ${values} FROM ${table}${where} GROUP BY ${keys} ORDER BY ${keys}`);
  }
  return out;
}

/** The latency quantiles of events_per_minute per tenant, app, agent and model: t-digests, equal for equal inserts. */
export function latencies(store: Store): Promise<unknown[]> {
  return store.query(
    `SELECT tenant, app, agent, model, quantilesTDigestMerge(0.5, 0.9, 0.99)(latency_ms) AS q
     FROM events_per_minute GROUP BY tenant, app, agent, model ORDER BY tenant, app, agent, model`,
  );
}
