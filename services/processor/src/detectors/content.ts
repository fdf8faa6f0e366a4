import { SEVERITIES, type ContentChannel, type Severity } from '@aispm/core';
import { contentVerdicts, type ContentVerdict } from './content-detections.ts';
import { enabled, numberParam } from './params.ts';
import type { Detection, Detector } from './types.ts';

/**
 * Content verdicts as findings: the verdicts of the content detectors that run
 * where text enters aispm (shim, gateway) travel on each event
 * (`event.detections`); this turns them into findings on the event's agent, one
 * per rule and channel (key evidence `<rule>:<channel>`), so repeated injections
 * through the same channel are one finding with many occurrences.
 *
 * Verdict → rule:
 * - `injection` of kind `jailbreak` / `system_prompt_extraction` on a direct
 *   channel → `prompt_injection.jailbreak` / `.system_prompt_extraction`;
 *   other kinds → `prompt_injection.direct`; any kind on a tool output or
 *   retrieved document → `prompt_injection.indirect`;
 * - `sensitive` → `sensitive_data.<family>`: prompt (user_prompt), completion,
 *   tool (tool_arguments, tool_output), retrieval (retrieved_doc);
 * - `guardrail` → `guardrail.<action>` by the action taken (`via`): block,
 *   redact, else flag.
 * A verdict counts from its rule's `min_score`. The severity is the rule's, or
 * the strongest verdict's when that is higher (a leaked key outranks an e-mail
 * address). Stateless: the memo is null.
 */
export const CONTENT_RULES = {
  'prompt_injection.direct': { min_score: 'fraction' },
  'prompt_injection.indirect': { min_score: 'fraction' },
  'prompt_injection.jailbreak': { min_score: 'fraction' },
  'prompt_injection.system_prompt_extraction': { min_score: 'fraction' },
  'sensitive_data.prompt': { min_score: 'fraction' },
  'sensitive_data.completion': { min_score: 'fraction' },
  'sensitive_data.tool': { min_score: 'fraction' },
  'sensitive_data.retrieval': { min_score: 'fraction' },
  'guardrail.block': { min_score: 'fraction' },
  'guardrail.redact': { min_score: 'fraction' },
  'guardrail.flag': { min_score: 'fraction' },
} as const;

const INDIRECT: ReadonlySet<ContentChannel> = new Set(['tool_output', 'retrieved_doc']);
const SENSITIVE_FAMILY: Record<ContentChannel, string> = {
  user_prompt: 'prompt',
  completion: 'completion',
  tool_arguments: 'tool',
  tool_output: 'tool',
  retrieved_doc: 'retrieval',
};
/** Verdicts quoted per finding, at most. */
const MAX_QUOTED = 4;

/** The behaviour-pack rule a content verdict maps to. */
export function contentRuleOf(v: Pick<ContentVerdict, 'detector' | 'kind' | 'channel' | 'via'>): string {
  switch (v.detector) {
    case 'injection':
      if (INDIRECT.has(v.channel)) return 'prompt_injection.indirect';
      if (v.kind === 'jailbreak') return 'prompt_injection.jailbreak';
      if (v.kind === 'system_prompt_extraction') return 'prompt_injection.system_prompt_extraction';
      return 'prompt_injection.direct';
    case 'sensitive':
      return `sensitive_data.${SENSITIVE_FAMILY[v.channel] ?? 'tool'}`;
    case 'guardrail':
      return v.via === 'block' || v.via === 'redact' ? `guardrail.${v.via}` : 'guardrail.flag';
  }
}

export const content: Detector<null> = {
  id: 'content',
  rules: CONTENT_RULES,
  initial: () => null,
  accepts: (memo): memo is null => memo === null,
  detect({ event, rules }) {
    const verdicts = contentVerdicts(event);
    if (verdicts.length === 0) return [];
    const groups = new Map<string, { ruleId: string; channel: ContentChannel; verdicts: ContentVerdict[] }>();
    for (const v of verdicts) {
      const ruleId = contentRuleOf(v);
      const rule = enabled(rules, ruleId);
      if (!rule || !(v.score >= numberParam(rule, 'min_score'))) continue;
      const key = `${ruleId}:${v.channel}`;
      const group = groups.get(key) ?? { ruleId, channel: v.channel, verdicts: [] };
      group.verdicts.push(v);
      groups.set(key, group);
    }
    const out: Detection[] = [];
    for (const [key, { ruleId, channel, verdicts: vs }] of groups) {
      const rule = rules.get(ruleId)!;
      vs.sort((a, b) => b.score - a.score);
      const strongest = vs.reduce<Severity>((s, v) => (rank(v.severity) > rank(s) ? v.severity : s), rule.severity);
      const kinds = [...new Set(vs.map((v) => v.kind))];
      out.push({
        rule: ruleId,
        key_evidence: key,
        score: vs[0]!.score,
        ...(strongest !== rule.severity ? { severity: strongest } : {}),
        title: `${rule.title}: ${kinds.slice(0, 3).join(', ')} in ${channel.replace('_', ' ')}`,
        evidence: vs
          .slice(0, MAX_QUOTED)
          .map(
            (v) =>
              `${v.detector} verdict ${v.kind} (rule ${v.rule}) in ${channel}${event.tool_name ? ` of tool ${event.tool_name}` : ''}, score ${v.score.toFixed(2)}, via ${v.via}`,
          ),
      });
    }
    return out;
  },
};

const rank = (s: Severity): number => SEVERITIES.indexOf(s);
