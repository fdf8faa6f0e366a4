import { enabled, numberParam } from './params.ts';
import type { Detector } from './types.ts';

export const TOKEN_SPIKE = 'denial_of_wallet.token_spike';

/**
 * Denial of wallet (OWASP LLM10, ATLAS AML.T0034 cost harvesting): a call whose
 * input or output tokens are far above the key's baseline: a robust z (MADs of
 * ln(1 + tokens) above the median, baseline/agent.ts) of at least `min_z`, at
 * least `min_ratio` times the median, and at least `min_tokens` (so a tiny
 * baseline, where 40 tokens are "ten times" 4, does not fire). Never while the
 * baseline is learning. One finding per key (key evidence `tokens`); the
 * evidence names the feature. Stateless: the memo is null.
 */
export const denialOfWallet: Detector<null> = {
  id: 'denial_of_wallet',
  rules: { [TOKEN_SPIKE]: { min_z: 'number', min_ratio: 'number', min_tokens: 'count' } },
  initial: () => null,
  accepts: (memo): memo is null => memo === null,
  detect({ measurement, rules }) {
    const rule = enabled(rules, TOKEN_SPIKE);
    if (!rule || measurement.learning) return [];
    const minZ = numberParam(rule, 'min_z');
    const minRatio = numberParam(rule, 'min_ratio');
    const minTokens = numberParam(rule, 'min_tokens');
    const spikes = measurement.numeric.filter(
      (n) =>
        (n.feature === 'input_tokens' || n.feature === 'output_tokens') &&
        n.z >= minZ &&
        n.value >= minTokens &&
        n.value >= minRatio * Math.max(n.median, 1),
    );
    if (spikes.length === 0) return [];
    const z = Math.max(...spikes.map((n) => n.z));
    return [
      {
        rule: rule.id,
        key_evidence: 'tokens',
        // At the threshold: the rule's confidence; twice the threshold and beyond: near certain.
        score: Math.min(1, rule.confidence + (1 - rule.confidence) * Math.min(1, (z - minZ) / Math.max(minZ, 1))),
        title: `Token spend spike: ${spikes.map((n) => n.feature.replace('_', ' ')).join(' and ')}`,
        evidence: spikes.map(
          (n) =>
            `${n.feature} ${Math.round(n.value)} is ${(n.value / Math.max(n.median, 1)).toFixed(1)}× the median ${Math.round(n.median)} (robust z ${n.z.toFixed(1)})`,
        ),
      },
    ];
  },
};
