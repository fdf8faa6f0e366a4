import type { Finding, Severity } from '@aispm/core';
import type { Approval } from '../detectors/policy.ts';
import { assetRef, findingAsset } from '../inventory/inventory.ts';

/**
 * Posture: a 0–100 score per asset and per tenant (100: nothing to fix), with its
 * breakdown by category and the actions that would raise it most.
 *
 * Design:
 * - Every open finding is an item of risk in one category (CATEGORY_OF_TYPE, by the
 *   finding's type, else its rule's prefix: the content detector's findings are type
 *   `content`, rule `prompt_injection.direct`, ...). Its weight is severity weight ×
 *   confidence, in [0, 1): confidence is the finding's score clamped to
 *   [minConfidence, 1] (detectors score in [0, 1]; drift's PSI is unbounded and
 *   clamps to 1). An unapproved asset is an item of its own in shadow AI (weight
 *   unapprovedWeight), with or without a shadow_ai finding.
 * - Diminishing returns: a category's risk is a noisy-OR of its items taken
 *   strongest first, the k-th (from 0) counted at decay^k of its weight:
 *   risk = 1 − Π (1 − w_k · decay^k). One high finding (0.6) gives 0.6, two 0.72,
 *   fifty about 0.78: an asset with 50 findings is not 50 times worse than one
 *   with one, and a pile of low findings never outweighs a critical one.
 * - A category's score is 100 · (1 − share · risk): each category can take at most
 *   its share of the score (CATEGORY_SHARE: data leakage 70 points, ... anomalies
 *   30). The total is 100 · Π (category score / 100): every category counts, none
 *   can be made up for by another, and the order of the categories does not matter.
 * - The tenant is scored the same way over all its items (every asset's findings
 *   and unapproved assets), with a gentler decay (tenantDecay), since more exposed
 *   assets mean more exposure.
 * - Actions: each candidate (resolve one open finding; approve, or remove, one
 *   unapproved asset) is scored by computing the score again without its item:
 *   the gain is the difference of two real scores, never an estimate. Only the
 *   strongest `actions` items of each category are tried: removing a weaker item
 *   never gains more than removing a stronger one of the same category (the list
 *   left is, place by place, at least as strong), so the best `actions` overall are
 *   among them. That bounds the work to 6 × actions re-scorings of one category.
 * - Pure and deterministic: ties are broken by the target's id. No clock.
 */
export const CATEGORIES = [
  'injection_exposure',
  'data_leakage',
  'agency',
  'shadow_ai',
  'model_integrity',
  'anomalies',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Finding type (or rule prefix) → category. Others count as anomalies. */
export const CATEGORY_OF_TYPE: Readonly<Record<string, Category>> = {
  prompt_injection: 'injection_exposure',
  jailbreak: 'injection_exposure',
  // A guard that had to block or redact is an attack that reached the app.
  guardrail: 'injection_exposure',
  sensitive_data: 'data_leakage',
  exfiltration: 'data_leakage',
  excessive_agency: 'agency',
  toxic_combination: 'agency',
  shadow_ai: 'shadow_ai',
  silent_model_change: 'model_integrity',
  behaviour_drift: 'model_integrity',
  behaviour_anomaly: 'anomalies',
  denial_of_wallet: 'anomalies',
};

export const DEFAULT_POSTURE_OPTIONS = {
  severityWeights: { info: 0.02, low: 0.1, medium: 0.3, high: 0.6, critical: 0.9 } as Readonly<
    Record<Severity, number>
  >,
  /** Most points (of 100) each category can take. */
  categoryShare: {
    injection_exposure: 0.6,
    data_leakage: 0.7,
    agency: 0.6,
    shadow_ai: 0.4,
    model_integrity: 0.4,
    anomalies: 0.3,
  } as Readonly<Record<Category, number>>,
  decay: 0.5,
  tenantDecay: 0.7,
  unapprovedWeight: 0.5,
  minConfidence: 0.25,
  actions: 3,
};

export interface PostureOptions {
  severityWeights?: Readonly<Record<Severity, number>>;
  categoryShare?: Readonly<Record<Category, number>>;
  /** In (0, 1]: how much each next item of a category counts, relative to the one before, per asset. */
  decay?: number;
  /** The same for the tenant's score. */
  tenantDecay?: number;
  /** Weight of an unapproved asset in shadow AI. */
  unapprovedWeight?: number;
  minConfidence?: number;
  /** Actions listed per score (default 3). */
  actions?: number;
}

/** What posture reads of an inventory asset. */
export interface PostureAssetInput {
  kind: string;
  name: string;
  approval: Approval;
  owner?: string | null;
}

/** What posture reads of an open finding. */
export type PostureFinding = Pick<
  Finding,
  'id' | 'tenant' | 'asset' | 'asset_type' | 'type' | 'rule' | 'severity' | 'score' | 'title'
>;

export interface PostureAction {
  kind: 'resolve_finding' | 'approve_asset';
  /** The finding id, or the asset's `kind:name`. */
  target: string;
  /** What to do, in plain words. */
  title: string;
  category: Category;
  /** Points the score gains: the score computed without this item minus the score now. */
  points: number;
}

export interface Score {
  /** 0–100. */
  score: number;
  /** Each category's own score, 0–100; score = 100 · Π (category / 100). */
  categories: Record<Category, number>;
  open_findings: number;
  /** At most `actions`, largest gain first; only actions that gain something. */
  actions: PostureAction[];
}

export interface AssetPosture extends Score {
  kind: string;
  name: string;
  approval: Approval;
  owner: string | null;
}

export interface Posture extends Score {
  /** Every asset of the inventory, and those only findings name, in (kind, name) order. */
  assets: AssetPosture[];
}

/** One item of risk: a finding, or an unapproved asset. */
interface Item {
  category: Category;
  weight: number;
  action: Omit<PostureAction, 'points' | 'category'>;
}

type Resolved = typeof DEFAULT_POSTURE_OPTIONS;

/** The category of a finding: by its type, else its rule's prefix (`prompt_injection.direct`), else anomalies. */
export function categoryOf(finding: Pick<Finding, 'type' | 'rule'>): Category {
  return CATEGORY_OF_TYPE[finding.type] ?? CATEGORY_OF_TYPE[finding.rule.split('.', 1)[0] ?? ''] ?? 'anomalies';
}

/** A finding's weight: severity weight × confidence (its score, clamped to [minConfidence, 1]). */
export function findingWeight(finding: Pick<Finding, 'severity' | 'score'>, options: PostureOptions = {}): number {
  const o = resolve(options);
  const confidence = Number.isFinite(finding.score) ? Math.min(1, Math.max(o.minConfidence, finding.score)) : 1;
  return (o.severityWeights[finding.severity] ?? 0) * confidence;
}

/**
 * Scores one tenant: its inventory (any assets, approval already judged) and its
 * open findings (status is not checked: pass open ones). See the module comment.
 */
export function postureOf(
  inventory: readonly PostureAssetInput[],
  openFindings: readonly PostureFinding[],
  options: PostureOptions = {},
): Posture {
  const o = resolve(options);
  const assets = new Map<string, { input: PostureAssetInput; items: Item[]; findings: number }>();
  const assetOf = (kind: string, name: string): { input: PostureAssetInput; items: Item[]; findings: number } => {
    const ref = assetRef({ kind, name });
    let entry = assets.get(ref);
    if (entry === undefined) {
      entry = { input: { kind, name, approval: 'unjudged', owner: null }, items: [], findings: 0 };
      assets.set(ref, entry);
    }
    return entry;
  };
  for (const asset of inventory) {
    const entry = assetOf(asset.kind, asset.name);
    entry.input = asset;
    if (asset.approval === 'unapproved') {
      entry.items.push({
        category: 'shadow_ai',
        weight: o.unapprovedWeight,
        action: {
          kind: 'approve_asset',
          target: assetRef(asset),
          title: `Approve ${asset.kind.replaceAll('_', ' ')} ${asset.name} in the inventory policy, or stop using it`,
        },
      });
    }
  }
  for (const finding of openFindings) {
    const { kind, name } = findingAsset(finding);
    const entry = assetOf(kind, name);
    entry.findings++;
    entry.items.push({
      category: categoryOf(finding),
      weight: findingWeight(finding, o),
      action: {
        kind: 'resolve_finding',
        target: finding.id,
        title: `Resolve ${finding.severity} ${finding.rule || finding.type} on ${kind} ${name}: ${finding.title}`,
      },
    });
  }
  const perAsset = [...assets.values()]
    .map(({ input, items, findings }): AssetPosture => ({
      kind: input.kind,
      name: input.name,
      approval: input.approval,
      owner: input.owner ?? null,
      ...score(items, findings, o.decay, o),
    }))
    .sort((a, b) => compare(a.kind, b.kind) || compare(a.name, b.name));
  const all = [...assets.values()].flatMap((a) => a.items);
  return { ...score(all, openFindings.length, o.tenantDecay, o), assets: perAsset };
}

function score(items: readonly Item[], openFindings: number, decay: number, o: Resolved): Score {
  const byCategory = new Map<Category, Item[]>(CATEGORIES.map((c) => [c, []]));
  for (const item of items) byCategory.get(item.category)!.push(item);
  // Strongest first, ties by target: the order diminishing returns count them in.
  for (const list of byCategory.values())
    list.sort((a, b) => b.weight - a.weight || compare(a.action.target, b.action.target));
  const categories = {} as Record<Category, number>;
  for (const c of CATEGORIES) categories[c] = categoryScore(byCategory.get(c)!, c, decay, o);
  const total = totalOf(categories);

  const actions: PostureAction[] = [];
  for (const c of CATEGORIES) {
    const list = byCategory.get(c)!;
    for (let i = 0; i < Math.min(list.length, o.actions); i++) {
      const without = { ...categories, [c]: categoryScore(withoutIndex(list, i), c, decay, o) };
      const points = totalOf(without) - total;
      if (points > 1e-9) actions.push({ ...list[i]!.action, category: c, points });
    }
  }
  actions.sort((a, b) => b.points - a.points || compare(a.target, b.target));
  return { score: total, categories, open_findings: openFindings, actions: actions.slice(0, o.actions) };
}

/** 100 · (1 − share · risk), risk the noisy-OR of the items (strongest first) at decay^k. */
function categoryScore(sorted: readonly Item[], category: Category, decay: number, o: Resolved): number {
  let safe = 1;
  let factor = 1;
  for (const item of sorted) {
    safe *= 1 - Math.min(1, Math.max(0, item.weight)) * factor;
    factor *= decay;
    if (factor < 1e-6) break;
  }
  return 100 * (1 - o.categoryShare[category] * (1 - safe));
}

function totalOf(categories: Record<Category, number>): number {
  let product = 100;
  for (const c of CATEGORIES) product *= categories[c] / 100;
  return product;
}

const withoutIndex = <T>(list: readonly T[], index: number): T[] => [...list.slice(0, index), ...list.slice(index + 1)];

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function resolve(options: PostureOptions): Resolved {
  const o = { ...DEFAULT_POSTURE_OPTIONS, ...definedOnly(options) };
  const fraction = (name: string, value: number, min: number, max: number): void => {
    if (!(value >= min && value <= max))
      throw new RangeError(`posture option ${name} is ${value}; expected ${min}–${max}`);
  };
  fraction('decay', o.decay, 1e-6, 1);
  fraction('tenantDecay', o.tenantDecay, 1e-6, 1);
  fraction('unapprovedWeight', o.unapprovedWeight, 0, 1);
  fraction('minConfidence', o.minConfidence, 0, 1);
  fraction('actions', o.actions, 0, 100);
  for (const c of CATEGORIES) fraction(`categoryShare.${c}`, o.categoryShare[c], 0, 1);
  return o;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
