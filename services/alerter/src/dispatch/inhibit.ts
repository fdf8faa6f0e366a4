import type { Finding } from '@aispm/core';
import { matchesAll } from '../routes/index.ts';
import type { GroupLabel, InhibitRule } from '../routes/index.ts';

export function labelValue(f: Finding, label: GroupLabel): string {
  return f[label];
}

/**
 * Inhibition as Alertmanager's: a firing finding matching a rule's source mutes the
 * findings matching its target that share the `equal` labels (tenant always among
 * them). A finding that matches both sides is not muted by sources that do too, so
 * no finding mutes itself. Sources are the open findings seen, until their resolve
 * record; bounded, oldest forgotten first.
 */
export class Inhibitor {
  readonly #rules: readonly InhibitRule[];
  /** Per rule: equal-labels key → source finding id → whether that source also matches the target. */
  readonly #index: Map<string, Map<string, boolean>>[];
  /** `rule\0id` → equal key, in insertion order: the bound's eviction order. */
  readonly #order = new Map<string, string>();
  readonly #max: number;
  evicted = 0;

  constructor(rules: readonly InhibitRule[], max: number) {
    this.#rules = rules;
    this.#index = rules.map(() => new Map<string, Map<string, boolean>>());
    this.#max = max;
  }

  get size(): number {
    return this.#order.size;
  }

  /** Takes note of a record: an open source starts inhibiting; a resolve (or a record no longer a source) stops it. */
  observe(f: Finding): void {
    this.#rules.forEach((rule, i) => {
      const k = `${i}\u0000${f.tenant}\u0000${f.id}`;
      const was = this.#order.get(k);
      if (was !== undefined) this.#remove(i, k, was, f.id);
      if (f.status !== 'open' || !matchesAll(rule.source, f)) return;
      const eq = equalKey(rule, f);
      let sources = this.#index[i]!.get(eq);
      if (!sources) this.#index[i]!.set(eq, (sources = new Map<string, boolean>()));
      sources.set(f.id, matchesAll(rule.target, f));
      this.#order.set(k, eq);
      if (this.#order.size > this.#max) {
        const [oldest, oldestEq] = this.#order.entries().next().value!;
        const [rule0, , id] = oldest.split('\u0000') as [string, string, string];
        this.#remove(Number(rule0), oldest, oldestEq, id);
        this.evicted++;
      }
    });
  }

  /** Whether some firing source mutes this finding now. */
  inhibits(f: Finding): boolean {
    for (let i = 0; i < this.#rules.length; i++) {
      const rule = this.#rules[i]!;
      if (!matchesAll(rule.target, f)) continue;
      const sources = this.#index[i]!.get(equalKey(rule, f));
      if (!sources) continue;
      const alsoSource = matchesAll(rule.source, f);
      for (const [id, alsoTarget] of sources) {
        if (id === f.id || (alsoSource && alsoTarget)) continue;
        return true;
      }
    }
    return false;
  }

  #remove(rule: number, k: string, eq: string, id: string): void {
    this.#order.delete(k);
    const sources = this.#index[rule]!.get(eq);
    sources?.delete(id);
    if (sources?.size === 0) this.#index[rule]!.delete(eq);
  }
}

function equalKey(rule: InhibitRule, f: Finding): string {
  return rule.equal.map((l) => labelValue(f, l)).join('\u0000');
}
