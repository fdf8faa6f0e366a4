import type { AiEvent } from '@aispm/core';
import { globMatch } from './glob.ts';
import { enabled, mapParam, numberParam, stringsParam } from './params.ts';
import { canonicalModel, sameModel } from './models.ts';
import type { Detection, Detector, Rule } from './types.ts';
import { hours } from './words.ts';

export const MODEL_SUBSTITUTION = 'silent_model_change.substitution';
export const NOVEL_MODEL = 'silent_model_change.novel_model';
export const FINGERPRINT_CHANGE = 'silent_model_change.fingerprint';

/**
 * What the detector remembers per key: the newest system fingerprints seen per
 * provider/model, newest last. Bounded: at most MAX_FINGERPRINT_MODELS models
 * (the one seen longest ago is dropped first) and at most `fingerprints_kept`
 * (itself capped at MAX_FINGERPRINTS) fingerprints per model, each at most MAX_FINGERPRINT_LENGTH characters.
 */
export interface FingerprintMemo {
  /** `provider/model` → fingerprints, oldest first; key order is recency of use (oldest first). */
  fingerprints: Record<string, string[]>;
}

export const MAX_FINGERPRINT_MODELS = 16;
export const MAX_FINGERPRINTS = 8;
export const MAX_FINGERPRINT_LENGTH = 128;

/**
 * Silent model changes (OWASP LLM03 supply chain, ASI04):
 * - `substitution`: the model that answered is not the one asked for, beyond
 *   aliases and dated snapshots (models.ts: `gpt-4o` → `gpt-4o-2024-08-06` is the
 *   same, `gpt-4o` → `gpt-4o-mini` is not). `equivalents` maps a requested name
 *   (an Azure deployment, say) to globs of the models that may answer for it.
 * - `novel_model`: the answering model is new to the key's learned model mix,
 *   once the baseline is past learning (a moved alias, a new snapshot).
 * - `fingerprint`: the provider's system fingerprint (the first of the
 *   `fingerprint_attributes` the event carries) for a provider and model is one
 *   not among the last `fingerprints_kept` seen for it: the backend changed under
 *   the same model name.
 */
export const silentModelChange: Detector<FingerprintMemo> = {
  id: 'silent_model_change',
  rules: {
    [MODEL_SUBSTITUTION]: { equivalents: 'string_map' },
    [NOVEL_MODEL]: {},
    [FINGERPRINT_CHANGE]: { fingerprint_attributes: 'strings', fingerprints_kept: 'count' },
  },
  initial: () => ({ fingerprints: {} }),
  accepts: (memo): memo is FingerprintMemo =>
    typeof memo === 'object' &&
    memo !== null &&
    typeof (memo as FingerprintMemo).fingerprints === 'object' &&
    (memo as FingerprintMemo).fingerprints !== null,
  detect({ event, measurement, rules }, memo) {
    const out: Detection[] = [];
    const requested = event.request_model;
    const responded = event.response_model;

    const substitution = enabled(rules, MODEL_SUBSTITUTION);
    if (substitution && requested && responded && !equivalent(substitution, requested, responded))
      out.push({
        rule: substitution.id,
        key_evidence: `${canonicalModel(requested)}→${canonicalModel(responded)}`,
        score: substitution.confidence,
        title: `Model ${requested} answered by ${responded}`,
        evidence: [
          `asked for ${requested} (${canonicalModel(requested)}), answered by ${responded} (${canonicalModel(responded)})${event.provider ? ` at ${event.provider}` : ''}`,
        ],
      });

    const novel = enabled(rules, NOVEL_MODEL);
    if (novel && responded && !measurement.learning) {
      const m = measurement.categorical.find((c) => c.field === 'model' && c.value === responded);
      if (m?.novel)
        out.push({
          rule: novel.id,
          key_evidence: responded,
          score: Math.min(1, novel.confidence * (1 - m.p) + 0.1),
          title: `New model ${responded} answering`,
          evidence: [
            `model ${responded} never answered in ${hours(measurement.ageMs)} of this key's baseline (P(new model) ${m.p.toFixed(3)})`,
          ],
        });
    }

    const fingerprint = enabled(rules, FINGERPRINT_CHANGE);
    if (fingerprint) {
      const changed = fingerprintChange(event, fingerprint, memo);
      if (changed) out.push(changed);
    }
    return out;
  },
};

function equivalent(rule: Rule, requested: string, responded: string): boolean {
  if (sameModel(requested, responded)) return true;
  const equivalents = mapParam(rule, 'equivalents');
  for (const [name, globs] of Object.entries(equivalents))
    if (
      globMatch(name, requested) &&
      globs.some((g) => globMatch(g, responded) || globMatch(g, canonicalModel(responded)))
    )
      return true;
  return false;
}

function fingerprintChange(event: AiEvent, rule: Rule, memo: FingerprintMemo): Detection | null {
  const model = event.response_model ?? event.request_model;
  if (!model) return null;
  let value: string | undefined;
  for (const key of stringsParam(rule, 'fingerprint_attributes')) {
    value = event.attributes[key];
    if (value) break;
  }
  if (!value) return null;
  value = value.slice(0, MAX_FINGERPRINT_LENGTH);
  const key = `${event.provider ?? '?'}/${model}`.slice(0, 2 * MAX_FINGERPRINT_LENGTH);
  const kept = Math.max(1, Math.min(numberParam(rule, 'fingerprints_kept'), MAX_FINGERPRINTS));
  const known = memo.fingerprints[key] ?? [];
  const seen = known.includes(value);
  // Most recently used last, in the list and among the models.
  const next = [...known.filter((f) => f !== value), value].slice(-kept);
  delete memo.fingerprints[key];
  memo.fingerprints[key] = next;
  const models = Object.keys(memo.fingerprints);
  for (const old of models.slice(0, Math.max(0, models.length - MAX_FINGERPRINT_MODELS))) delete memo.fingerprints[old];
  if (seen || known.length === 0) return null;
  return {
    rule: rule.id,
    key_evidence: key,
    score: rule.confidence,
    title: `System fingerprint of ${model} changed`,
    evidence: [`${key} answered with system fingerprint ${value}; the last seen: ${known.slice(-3).join(', ')}`],
  };
}
