import { SEVERITIES, type Finding, type FindingStatus, type Severity } from '@aispm/core';
import type { Store } from '@aispm/store';
import type { InventoryPolicy } from '../detectors/types.ts';
import { annotateAssets, assetRef, findingAsset, type AssetRow, type InventoryAsset } from './inventory.ts';

/**
 * What the readers need of a store: bound-parameter queries. A Store is one; so is
 * a client of the SQL endpoint of a running `aispm up` (the CLI's), which runs
 * plain SELECTs with `{name:Type}` parameters and adds `tenant = …` itself.
 */
export type StoreQuery = Pick<Store, 'query'>;

/** The tables these readers read (migrations 004 and 010). */
export const ASSETS_TABLE = 'assets';
export const FINDINGS_TABLE = 'findings';

export interface ReadInventoryOptions {
  /** Only assets of this kind. */
  kind?: string;
  /** Most assets returned, in (kind, name) order (default 10,000): the inventory is read whole into memory. */
  limit?: number;
  /** Count open findings per asset (one more query over the tenant's findings; default true). */
  findings?: boolean;
}

export const INVENTORY_LIMIT = 10_000;
export const FINDINGS_LIMIT = 10_000;

/**
 * The tenant's AI assets with their owner and approval status from `policy`, and
 * (unless `findings` is false) the open findings on each, in (kind, name) order.
 */
export async function readInventory(
  store: StoreQuery,
  tenant: string,
  policy: InventoryPolicy,
  options: ReadInventoryOptions = {},
): Promise<InventoryAsset[]> {
  const rows = await readAssets(store, tenant, options);
  const open = options.findings === false ? new Map<string, number>() : await openFindingsPerAsset(store, tenant);
  return annotateAssets(rows, policy, open);
}

/** The tenant's assets as stored (no policy), in (kind, name) order; apps and agents sorted. */
export async function readAssets(
  store: StoreQuery,
  tenant: string,
  options: Pick<ReadInventoryOptions, 'kind' | 'limit'> = {},
): Promise<AssetRow[]> {
  const rows = await store.query<{
    kind: string;
    name: string;
    first_us: string;
    last_us: string;
    n: string | number;
    app_set: string[];
    agent_set: string[];
  }>(
    `SELECT kind, name,
            toString(toUnixTimestamp64Micro(min(first_seen))) AS first_us,
            toString(toUnixTimestamp64Micro(max(last_seen))) AS last_us,
            uniqCombined64Merge(14)(events) AS n,
            groupUniqArrayMerge(16)(apps) AS app_set,
            groupUniqArrayArrayMerge(16)(agents) AS agent_set
     FROM ${ASSETS_TABLE}
     WHERE tenant = {tenant:String} AND ({kind:String} = '' OR kind = {kind:String})
     GROUP BY kind, name
     ORDER BY kind, name
     LIMIT {limit:UInt32}`,
    { tenant, kind: options.kind ?? '', limit: options.limit ?? INVENTORY_LIMIT },
  );
  return rows.map((r) => ({
    kind: r.kind,
    name: r.name,
    first_seen: Number(r.first_us),
    last_seen: Number(r.last_us),
    events: Number(r.n),
    apps: [...r.app_set].sort(),
    agents: [...r.agent_set].sort(),
  }));
}

/**
 * Open findings per asset (`kind:name`, as assetRef), counted over the tenant's
 * findings merged by id (FINAL: the newest status wins, so a resolved finding no
 * longer counts).
 */
export async function openFindingsPerAsset(store: StoreQuery, tenant: string): Promise<Map<string, number>> {
  const rows = await store.query<{ asset: string; asset_type: string; n: string }>(
    `SELECT asset, asset_type, count() AS n
     FROM ${FINDINGS_TABLE} FINAL
     WHERE tenant = {tenant:String} AND status = 'open'
     GROUP BY asset, asset_type`,
    { tenant },
  );
  const counts = new Map<string, number>();
  for (const row of rows) {
    const ref = assetRef(findingAsset({ tenant, asset: row.asset, asset_type: row.asset_type }));
    counts.set(ref, (counts.get(ref) ?? 0) + Number(row.n));
  }
  return counts;
}

/**
 * The tenant's open findings, merged by id, strongest first (severity, then score),
 * at most `limit` (default 10,000).
 */
export async function readOpenFindings(
  store: StoreQuery,
  tenant: string,
  limit: number = FINDINGS_LIMIT,
): Promise<Finding[]> {
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
     FROM ${FINDINGS_TABLE} FINAL
     WHERE tenant = {tenant:String} AND status = 'open'
     ORDER BY severity DESC, score DESC, id
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
    severity: isSeverity(r.sev) ? r.sev : 'info',
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

/** Tenants with assets or findings, in order, at most `limit`. */
export async function readTenants(store: StoreQuery, limit = 1000): Promise<string[]> {
  const rows = await store.query<{ tenant: string }>(
    `SELECT tenant FROM (
       SELECT DISTINCT tenant FROM ${ASSETS_TABLE}
       UNION DISTINCT
       SELECT DISTINCT tenant FROM ${FINDINGS_TABLE}
     ) ORDER BY tenant LIMIT {limit:UInt32}`,
    { limit },
  );
  return rows.map((r) => r.tenant);
}

const isSeverity = (value: string): value is Severity => (SEVERITIES as readonly string[]).includes(value);
