import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  SEVERITIES,
  loadConfig,
  type Config,
  type Finding,
  type FindingStatus,
  type Logger,
  type Severity,
} from '@aispm/core';
import {
  CATEGORIES,
  POSTURE_TABLE,
  TENANT_ROW,
  computePosture,
  readInventory,
  type Category,
  type InventoryPolicy,
  type StoreQuery,
} from '@aispm/processor';
import { UsageError } from '../usage.ts';
import type { EventFigures, ReportData, TrendPoint } from '../report/model.ts';
import { renderReport } from '../report/render.ts';
import { openReadSource } from './inventory-source.ts';
import { policyFrom } from './inventory.ts';

export const REPORT_HELP = `Usage: aispm report [options]

Writes a self-contained HTML posture and compliance report for one tenant and
period: the posture score now and its trend (a chart of the scores the posture job
stored over the period), the breakdown by category and the actions that would
raise it most, the top risks with their redacted evidence, open findings counted
by OWASP Top 10 for LLM Applications (2025), OWASP Top 10 for Agentic Applications
(2026) and MITRE ATLAS ids, the AI inventory with approval status, and a mapping of
aispm's controls to the NIST AI RMF functions (Govern, Map, Measure, Manage) and
EU AI Act obligations (Art. 9, 10, 12, 13, 14, 15) with the period's live figures.

One file: inline CSS and SVG charts, no script, nothing fetched when it is read
(open it offline, mail it, file it); laid out for print (A4): print it to PDF from
a browser.

Reads the store as \`aispm inventory\` does (see its --help).

Options:
  --tenant <t>     the tenant (default: the only tenant the store holds)
  --from <iso>     start of the period, ISO 8601 (default: 30 days before --to)
  --to <iso>       end of the period, ISO 8601 (default: now)
  --out <file>     where to write the HTML (default aispm-report-<tenant>-<date>.html)
  --policy <file>  inventory policy JSON (default AISPM_POLICY_FILE; none: approval not judged)
  --top <n>        findings listed as top risks (default 15)
  --data-dir <p>   where embedded-mode data is (default ./data, or AISPM_DATA_DIR)
  -h, --help       show this help`;

const DAY_MS = 86_400_000;
/** Most points the trend chart draws: stored scores are averaged into buckets beyond that. */
export const TREND_POINTS = 500;

export interface ReportOptions {
  tenant?: string;
  /** The period, ms since the epoch; default the 30 days before now. */
  from?: number;
  to?: number;
  policy?: InventoryPolicy;
  /** Whether `policy` came from a file (else approval is not judged). */
  policyGiven?: boolean;
  top?: number;
  /** Clock, ms (default Date.now). */
  now?: () => number;
}

export interface ReportResult {
  tenant: string;
  html: string;
  data: ReportData;
}

export async function reportCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      tenant: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      out: { type: 'string' },
      policy: { type: 'string' },
      top: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${REPORT_HELP}\n`);
    return 0;
  }
  const from = values.from === undefined ? undefined : isoFlag('--from', values.from);
  const to = values.to === undefined ? undefined : isoFlag('--to', values.to);
  let top: number | undefined;
  if (values.top !== undefined) {
    top = Number(values.top);
    if (!Number.isInteger(top) || top < 1)
      throw new UsageError(`--top expects a positive integer, got "${values.top}"`);
  }
  const policyFile = values.policy ?? (process.env.AISPM_POLICY_FILE || undefined);
  const policy = policyFrom(values.policy);
  const config = loadConfig(process.env, { dataDir: values['data-dir'] });
  const result = await buildReport(config, log, {
    tenant: values.tenant,
    from,
    to,
    policy,
    policyGiven: policyFile !== undefined,
    top,
  });
  const out = resolve(values.out ?? defaultFile(result.tenant, result.data.generatedAt));
  writeFileSync(out, result.html);
  const d = result.data;
  process.stdout.write(
    `wrote ${out} (${Math.round(Buffer.byteLength(result.html) / 1024)} KiB): tenant ${d.tenant}, posture ${(
      Math.round(d.posture.score * 10) / 10
    ).toFixed(
      1,
    )}/100, ${d.findings.filter((f) => f.status === 'open').length} open findings (${d.findings.length} in the period), ${d.inventory.length} assets, ${d.trend.length} stored scores\n`,
  );
  return 0;
}

/** Reads the store (as `aispm posture` does) and renders the report of one tenant and period. */
export async function buildReport(config: Config, log: Logger, options: ReportOptions = {}): Promise<ReportResult> {
  const source = await openReadSource(config, log, { tenant: options.tenant });
  try {
    const tenants = await source.tenants();
    let tenant = options.tenant;
    if (tenant === undefined) {
      if (tenants.length === 0) throw new UsageError(`no tenants with assets or findings (read ${source.via})`);
      if (tenants.length > 1)
        throw new UsageError(`the store holds several tenants (${tenants.join(', ')}): choose one with --tenant`);
      tenant = tenants[0]!;
    }
    const now = (options.now ?? Date.now)();
    const to = options.to ?? now;
    const from = options.from ?? to - 30 * DAY_MS;
    if (!(from < to)) throw new UsageError(`the period is empty: --from must be before --to`);
    const data = await collectReport(source.forTenant(tenant), tenant, {
      from,
      to,
      now,
      via: source.via,
      policy: options.policy ?? policyFrom(undefined),
      policyGiven: options.policyGiven ?? options.policy !== undefined,
    });
    return { tenant, html: renderReport(data, { topRisks: options.top }), data };
  } finally {
    await source.close();
  }
}

export interface CollectOptions {
  from: number;
  to: number;
  now: number;
  via: string;
  policy: InventoryPolicy;
  policyGiven: boolean;
}

/** The report's data of one tenant and period, read with plain SELECTs (so also through the SQL endpoint). */
export async function collectReport(store: StoreQuery, tenant: string, o: CollectOptions): Promise<ReportData> {
  const fromUs = o.from * 1000;
  const toUs = o.to * 1000;
  const posture = await computePosture(store, tenant, o.policy);
  const findings = (await readPeriodFindings(store, tenant)).filter(
    (f) => f.last_seen >= fromUs && f.first_seen <= toUs,
  );
  const inventory = (await readInventory(store, tenant, o.policy)).filter(
    (a) => a.last_seen >= fromUs && a.first_seen <= toUs,
  );
  return {
    tenant,
    from: o.from,
    to: o.to,
    generatedAt: o.now,
    via: o.via,
    policyGiven: o.policyGiven,
    posture,
    trend: await readTrend(store, tenant, o.from, o.to),
    findings,
    inventory,
    events: await readEventFigures(store, tenant, o.from, o.to),
  };
}

/**
 * The tenant's findings, open and resolved, merged by id (FINAL: the newest status
 * wins), open first, then strongest first (severity, then score), at most `limit`.
 */
export async function readPeriodFindings(store: StoreQuery, tenant: string, limit = 10_000): Promise<Finding[]> {
  const rows = await store.query<{
    id: string;
    asset: string;
    asset_type: string;
    type: string;
    rule: string;
    sev: string;
    score: number;
    title: string;
    evidence: string[];
    event_ids: string[];
    first_us: string;
    last_us: string;
    occurrences: string;
    status: string;
    owasp_llm: string[];
    owasp_agentic: string[];
    mitre_atlas: string[];
    model: string;
  }>(
    `SELECT id, asset, asset_type, type, rule, toString(severity) AS sev, score, title, evidence, event_ids,
            toString(toUnixTimestamp64Micro(first_seen)) AS first_us,
            toString(toUnixTimestamp64Micro(last_seen)) AS last_us,
            toString(occurrences) AS occurrences, status, owasp_llm, owasp_agentic, mitre_atlas, model
     FROM findings FINAL
     WHERE tenant = {tenant:String}
     ORDER BY status = 'open' DESC, severity DESC, score DESC, id
     LIMIT {limit:UInt32}`,
    { tenant, limit },
  );
  return rows.map((r) => ({
    id: r.id,
    tenant,
    asset: r.asset,
    asset_type: r.asset_type,
    type: r.type,
    rule: r.rule,
    severity: (SEVERITIES as readonly string[]).includes(r.sev) ? (r.sev as Severity) : 'info',
    score: Number(r.score),
    title: r.title,
    evidence: r.evidence,
    event_ids: r.event_ids,
    first_seen: Number(r.first_us),
    last_seen: Number(r.last_us),
    occurrences: Number(r.occurrences),
    status: r.status as FindingStatus,
    owasp_llm: r.owasp_llm,
    owasp_agentic: r.owasp_agentic,
    mitre_atlas: r.mitre_atlas,
    model: r.model,
  }));
}

/** The tenant's stored scores in [from, to], at most TREND_POINTS (averaged per bucket beyond that), oldest first. */
export async function readTrend(store: StoreQuery, tenant: string, from: number, to: number): Promise<TrendPoint[]> {
  // Buckets over the stored scores' own extent: a few minutes of scores in a month's period stay apart.
  const [extent] = await store.query<{ first: string; last: string }>(
    `SELECT toString(toUnixTimestamp64Milli(min(time))) AS first, toString(toUnixTimestamp64Milli(max(time))) AS last
     FROM ${POSTURE_TABLE}
     WHERE tenant = {tenant:String} AND asset_kind = {kind:String}
       AND time >= fromUnixTimestamp64Milli({from:Int64}) AND time <= fromUnixTimestamp64Milli({to:Int64})`,
    { tenant, kind: TENANT_ROW, from, to },
  );
  const span = Math.max(0, Number(extent?.last ?? 0) - Number(extent?.first ?? 0));
  const bucket = Math.max(1, Math.ceil((span + 1) / TREND_POINTS));
  const rows = await store.query<Record<string, string | number>>(
    `SELECT toString(toUnixTimestamp64Milli(min(time))) AS t, avg(score) AS score,
            ${CATEGORIES.map((c) => `avg(${c}) AS ${c}`).join(', ')}
     FROM ${POSTURE_TABLE}
     WHERE tenant = {tenant:String} AND asset_kind = {kind:String}
       AND time >= fromUnixTimestamp64Milli({from:Int64}) AND time <= fromUnixTimestamp64Milli({to:Int64})
     GROUP BY intDiv(toUnixTimestamp64Milli(time), {bucket:Int64})
     ORDER BY t`,
    { tenant, kind: TENANT_ROW, from, to, bucket },
  );
  return rows
    .map((r) => ({
      time: Number(r.t),
      score: Number(r.score),
      categories: Object.fromEntries(CATEGORIES.map((c) => [c, Number(r[c])])) as Record<Category, number>,
    }))
    .sort((a, b) => a.time - b.time);
}

/** Figures of the events recorded in [from, to] (replays counted once), their anomaly scores and drift reports. */
export async function readEventFigures(
  store: StoreQuery,
  tenant: string,
  from: number,
  to: number,
): Promise<EventFigures> {
  const params = { tenant, from: from * 1000, to: to * 1000 };
  const range = `tenant = {tenant:String}
       AND time >= fromUnixTimestamp64Micro({from:Int64}) AND time <= fromUnixTimestamp64Micro({to:Int64})`;
  const [totals] = await store.query<{ n: string; traces: string; tools: string; errors: string; det: string }>(
    `SELECT toString(count()) AS n, toString(uniqExact(trace_id)) AS traces,
            toString(countIf(kind = 'tool_call')) AS tools, toString(countIf(status = 'error')) AS errors,
            toString(countIf(notEmpty(detections))) AS det
     FROM events FINAL
     WHERE ${range}`,
    params,
  );
  const policies = await store.query<{ policy: string; n: string }>(
    `SELECT content_policy AS policy, toString(count()) AS n FROM events FINAL WHERE ${range} GROUP BY policy`,
    params,
  );
  const [scores] = await store.query<{ scored: string; anomalous: string }>(
    `SELECT toString(uniqExact(event_id)) AS scored, toString(uniqExactIf(event_id, score >= 0.8)) AS anomalous
     FROM anomaly_scores
     WHERE ${range}`,
    params,
  );
  const [drift] = await store.query<{ n: string }>(
    `SELECT toString(count()) AS n FROM drift_reports FINAL
     WHERE tenant = {tenant:String}
       AND window_end >= fromUnixTimestamp64Micro({from:Int64}) AND window_start <= fromUnixTimestamp64Micro({to:Int64})`,
    params,
  );
  return {
    total: Number(totals?.n ?? 0),
    traces: Number(totals?.traces ?? 0),
    toolCalls: Number(totals?.tools ?? 0),
    errors: Number(totals?.errors ?? 0),
    withDetections: Number(totals?.det ?? 0),
    byPolicy: Object.fromEntries(policies.map((r) => [r.policy, Number(r.n)])),
    scored: Number(scores?.scored ?? 0),
    anomalous: Number(scores?.anomalous ?? 0),
    driftReports: Number(drift?.n ?? 0),
  };
}

function isoFlag(flag: string, raw: string): number {
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms))
    throw new UsageError(`${flag} expects an ISO 8601 time (e.g. 2026-12-01T00:00:00Z), got "${raw}"`);
  return ms;
}

/** aispm-report-<tenant>-<yyyy-mm-dd>.html, the tenant reduced to characters safe in a file name. */
export function defaultFile(tenant: string, at: number): string {
  const safe = tenant.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64) || 'tenant';
  return `aispm-report-${safe}-${new Date(at).toISOString().slice(0, 10)}.html`;
}
