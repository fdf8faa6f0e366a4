import { describeError, silentLogger, type Logger } from '@aispm/core';
import type { Store } from '@aispm/store';
import { EMPTY_POLICY } from '../detectors/policy.ts';
import type { InventoryPolicy } from '../detectors/types.ts';
import { assetRef } from '../inventory/inventory.ts';
import { FINDINGS_LIMIT, INVENTORY_LIMIT, readInventory, readOpenFindings, readTenants } from '../inventory/read.ts';
import { postureOf, type AssetPosture, type Posture, type PostureOptions, type Score } from './posture.ts';

/** The table the job writes (schemas/clickhouse/011_posture.sql). */
export const POSTURE_TABLE = 'posture';
/** asset_kind of a tenant's own row. */
export const TENANT_ROW = 'tenant';

export interface PostureJobOptions {
  store: Pick<Store, 'query' | 'insert'>;
  /** The inventory policy, or a function returning the one in force (read at each run). EMPTY_POLICY by default. */
  policy?: InventoryPolicy | (() => InventoryPolicy);
  /** Between the end of one run and the start of the next; default 60 s. */
  intervalMs?: number;
  /** Tenants scored per run, at most (default 1,000). */
  maxTenants?: number;
  /** Assets and open findings read per tenant, at most (default 10,000 each): what one run holds in memory. */
  maxAssets?: number;
  maxFindings?: number;
  posture?: PostureOptions;
  log?: Logger;
  /** Wall clock, ms: the time written on the rows. */
  now?: () => number;
}

export interface PostureRun {
  tenants: number;
  rows: number;
  /** Tenants whose run failed (logged; the others are written). */
  failed: number;
  ms: number;
}

export interface PostureJobStats {
  runs: number;
  rows: number;
  failures: number;
  last: PostureRun | null;
}

/**
 * Computes every tenant's posture from the store (assets, open findings, the
 * policy) and writes it to the `posture` table, now and then every intervalMs,
 * for the runtime to start and stop. A run reads and scores one tenant at a time,
 * so memory is bounded by maxAssets + maxFindings of one tenant. It writes the
 * tenant's row and a row per asset whose score is below 100, or was below 100 at
 * the run before (so the latest row of an asset that recovered says so); assets at
 * 100 all along are not repeated every minute. Runs never overlap; a failing
 * tenant is logged and the others are still written.
 */
export class PostureJob {
  private readonly options: Required<Omit<PostureJobOptions, 'posture' | 'policy'>> &
    Pick<PostureJobOptions, 'posture' | 'policy'>;
  /** Per tenant, the assets written below 100 at the run before (at most maxAssets each, maxTenants tenants). */
  private below = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PostureRun> | null = null;
  private stopped = true;
  private readonly counters: PostureJobStats = { runs: 0, rows: 0, failures: 0, last: null };

  constructor(options: PostureJobOptions) {
    this.options = {
      intervalMs: 60_000,
      maxTenants: 1000,
      maxAssets: INVENTORY_LIMIT,
      maxFindings: FINDINGS_LIMIT,
      log: silentLogger,
      now: Date.now,
      ...definedOnly(options),
    } as PostureJob['options'];
    if (!(this.options.intervalMs > 0)) throw new RangeError(`PostureJob intervalMs must be positive`);
  }

  /** Runs now, then every intervalMs after each run ends, until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the schedule and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  stats(): PostureJobStats {
    return { ...this.counters };
  }

  /** One run over every tenant (waits for a run already in progress and returns its result). */
  runOnce(): Promise<PostureRun> {
    if (this.running !== null) return this.running;
    const run = this.run().finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.runOnce()
        .catch((err: unknown) => this.options.log.warn('posture run failed', { error: describeError(err) }))
        .finally(() => this.schedule(this.options.intervalMs));
    }, delay);
    this.timer.unref();
  }

  private async run(): Promise<PostureRun> {
    const { store, log, now, maxTenants } = this.options;
    const started = now();
    const tenants = await readTenants(store, maxTenants);
    const policy = this.policy();
    let rows = 0;
    let failed = 0;
    const below = new Map<string, Set<string>>();
    for (const tenant of tenants) {
      try {
        const posture = await computePosture(store, tenant, policy, this.options);
        const previous = this.below.get(tenant) ?? new Set<string>();
        const written = postureRows(tenant, posture, previous, now());
        if (written.rows.length > 0) await store.insert(POSTURE_TABLE, written.rows);
        below.set(tenant, written.below);
        rows += written.rows.length;
      } catch (err) {
        failed++;
        // Kept, so the next run still writes the recovery of what was below 100.
        const previous = this.below.get(tenant);
        if (previous) below.set(tenant, previous);
        log.warn('posture of a tenant failed; the others are written', { tenant, error: describeError(err) });
      }
    }
    this.below = below;
    const result: PostureRun = { tenants: tenants.length, rows, failed, ms: now() - started };
    this.counters.runs++;
    this.counters.rows += rows;
    this.counters.failures += failed;
    this.counters.last = result;
    log.debug('posture computed', { ...result });
    return result;
  }

  private policy(): InventoryPolicy {
    const { policy } = this.options;
    if (policy === undefined) return EMPTY_POLICY;
    return typeof policy === 'function' ? policy() : policy;
  }
}

/** One tenant's posture from the store: its inventory judged by `policy`, and its open findings. */
export async function computePosture(
  store: Pick<Store, 'query'>,
  tenant: string,
  policy: InventoryPolicy,
  options: { maxAssets?: number; maxFindings?: number; posture?: PostureOptions } = {},
): Promise<Posture> {
  const inventory = await readInventory(store, tenant, policy, {
    limit: options.maxAssets ?? INVENTORY_LIMIT,
    findings: false,
  });
  const findings = await readOpenFindings(store, tenant, options.maxFindings ?? FINDINGS_LIMIT);
  return postureOf(inventory, findings, options.posture);
}

/**
 * The `posture` rows of one tenant's posture: the tenant's, and each asset's that is
 * below 100 or in `previous` (written below 100 at the run before). Returns the
 * assets below 100 now, for the next run.
 */
export function postureRows(
  tenant: string,
  posture: Posture,
  previous: ReadonlySet<string>,
  nowMs: number,
): { rows: Record<string, unknown>[]; below: Set<string> } {
  const time = new Date(nowMs).toISOString().replace('T', ' ').replace('Z', '');
  const rows = [row(tenant, time, TENANT_ROW, '', posture, 'unjudged', null)];
  const below = new Set<string>();
  for (const asset of posture.assets) {
    const ref = assetRef(asset);
    const low = asset.score < 100 - 1e-9;
    if (low) below.add(ref);
    if (low || previous.has(ref)) rows.push(assetRow(tenant, time, asset));
  }
  return { rows, below };
}

const assetRow = (tenant: string, time: string, a: AssetPosture): Record<string, unknown> =>
  row(tenant, time, a.kind, a.name, a, a.approval, a.owner);

function row(
  tenant: string,
  time: string,
  assetKind: string,
  asset: string,
  s: Score,
  approval: string,
  owner: string | null,
): Record<string, unknown> {
  return {
    tenant,
    time,
    asset_kind: assetKind,
    asset,
    score: s.score,
    ...s.categories,
    open_findings: s.open_findings,
    approval,
    owner: owner ?? '',
    actions: s.actions.map((a) => a.title),
    action_points: s.actions.map((a) => a.points),
    action_targets: s.actions.map((a) => a.target),
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
