import type { AiEvent } from '@aispm/core';
import { contentVerdicts } from './content-detections.ts';
import { matchesAny } from './glob.ts';
import { enabled, numberParam, stringsParam } from './params.ts';
import { hostOf, isInternal } from './policy.ts';
import type { Detection, Detector } from './types.ts';
import { hours } from './words.ts';

export const SENSITIVE_ARGUMENTS = 'exfiltration.sensitive_arguments';
export const NEW_DESTINATION_LARGE_PAYLOAD = 'exfiltration.new_destination_large_payload';

/**
 * Exfiltration through tools (OWASP LLM02/LLM06, ASI02, ATLAS AML.T0086):
 * - `sensitive_arguments`: a tool call whose arguments carry sensitive data (a
 *   `sensitive` verdict on the tool_arguments channel from `min_detection_score`)
 *   and that goes out: to an external destination (policy.isInternal), or a tool
 *   of a class in `egress_risks` or matching `egress_tools`;
 * - `new_destination_large_payload`: once the baseline is past learning, a tool
 *   call to an external destination the key has never sent to (categorical
 *   novelty) carrying at least `min_input_tokens`: the event's input tokens, or
 *   when it has none, its captured arguments' length / `chars_per_token`.
 * The key evidence is the destination host (the tool when there is none).
 * Stateless: the memo is null.
 */
export const exfiltration: Detector<null> = {
  id: 'exfiltration',
  rules: {
    [SENSITIVE_ARGUMENTS]: { min_detection_score: 'fraction', egress_risks: 'strings', egress_tools: 'strings' },
    [NEW_DESTINATION_LARGE_PAYLOAD]: { min_input_tokens: 'count', chars_per_token: 'number' },
  },
  initial: () => null,
  accepts: (memo): memo is null => memo === null,
  detect({ event, measurement, rules, policy }) {
    const tool = event.tool_name;
    if (tool === null) return [];
    const out: Detection[] = [];
    const host = event.destination ? hostOf(event.destination) : null;
    const external = host !== null && !isInternal(policy, host);

    const sensitive = enabled(rules, SENSITIVE_ARGUMENTS);
    if (sensitive) {
      const min = numberParam(sensitive, 'min_detection_score');
      const found = contentVerdicts(event).filter(
        (v) => v.detector === 'sensitive' && v.channel === 'tool_arguments' && v.score >= min,
      );
      const risk = event.tool_risk ?? 'unknown';
      const egress =
        stringsParam(sensitive, 'egress_risks').includes(risk) ||
        matchesAny(stringsParam(sensitive, 'egress_tools'), tool);
      if (found.length > 0 && (external || egress)) {
        const kinds = [...new Set(found.map((v) => v.kind))].slice(0, 8);
        const where = external ? `external destination ${host}` : `egress tool (risk ${risk})`;
        out.push({
          rule: sensitive.id,
          key_evidence: host ?? tool,
          score: Math.max(sensitive.confidence, ...found.map((v) => v.score)),
          title: `Sensitive data sent out through ${tool}`,
          evidence: [`arguments of tool ${tool} carry ${kinds.join(', ')}; the call goes to ${where}`],
        });
      }
    }

    const fresh = enabled(rules, NEW_DESTINATION_LARGE_PAYLOAD);
    if (fresh && external && host && !measurement.learning && event.kind === 'tool_call') {
      const novelty = measurement.categorical.find((c) => c.field === 'destination' && c.value === event.destination);
      const size = payloadTokens(event, numberParam(fresh, 'chars_per_token'));
      const min = numberParam(fresh, 'min_input_tokens');
      if (novelty?.novel && size !== null && size >= min)
        out.push({
          rule: fresh.id,
          key_evidence: host,
          score: Math.min(1, fresh.confidence + 0.1 * Math.log2(size / Math.max(min, 1))),
          title: `Large payload to new external destination ${host}`,
          evidence: [
            `tool ${tool} sent about ${Math.round(size)} tokens to ${host}, a destination never seen in ${hours(measurement.ageMs)} of this agent's baseline`,
          ],
        });
    }
    return out;
  },
};

/** How big a call's input is, in tokens: its count, else its captured arguments' length over chars/token; null when unknown. */
function payloadTokens(event: AiEvent, charsPerToken: number): number | null {
  if (event.input_tokens !== null) return event.input_tokens;
  const args = event.content.tool_arguments;
  return args === null || charsPerToken <= 0 ? null : args.length / charsPerToken;
}
