import { globMatch } from './glob.ts';
import { enabled, mapParam, stringsParam } from './params.ts';
import { grantedScopes } from './policy.ts';
import { hours } from './words.ts';
import type { Detection, Detector, Rule } from './types.ts';

export const SCOPE_EXCEEDED = 'excessive_agency.scope_exceeded';
export const PRIVILEGED_TOOL = 'excessive_agency.privileged_tool';
export const NEW_HIGH_RISK_TOOL = 'excessive_agency.new_high_risk_tool';

/**
 * Excessive agency (OWASP LLM06, ASI02/ASI03): an agent using a tool beyond what
 * it was granted.
 *
 * - `scope_exceeded`: the tool's risk class is in `judged_risks` and no scope the
 *   agent holds grants it. Scopes come from the span (`aispm.scopes`), else the
 *   policy's grant for the agent (policy.grantedScopes); with neither, the grant is
 *   unknown and this rule does not judge. `scope_grants` maps scope globs to the
 *   risk classes they grant (`"*:read": ["read"]`, `"email:send": ["egress"]`,
 *   `"admin": [every class]`); a scope matching no glob grants nothing.
 * - `privileged_tool`: a `privileged` tool when no scope grants `privileged`, or the
 *   grant is unknown (reads `scope_grants` of scope_exceeded; takes precedence over it).
 * - `new_high_risk_tool`: a tool of a class in `high_risks` the agent's baseline has
 *   never seen (categorical novelty), once the baseline is past learning.
 *
 * Stateless: the memo is null. The key evidence is the tool, so each tool is one
 * finding per agent.
 */
export const excessiveAgency: Detector<null> = {
  id: 'excessive_agency',
  rules: {
    [SCOPE_EXCEEDED]: { judged_risks: 'strings', scope_grants: 'string_map' },
    [PRIVILEGED_TOOL]: {},
    [NEW_HIGH_RISK_TOOL]: { high_risks: 'strings' },
  },
  initial: () => null,
  accepts: (memo): memo is null => memo === null,
  detect({ event, measurement, rules, policy }) {
    const tool = event.tool_name;
    const risk = event.tool_risk;
    if (tool === null || risk === null) return [];
    const out: Detection[] = [];
    const scopes = grantedScopes(policy, event.agent, event.scopes);
    const grantRule = rules.get(SCOPE_EXCEEDED);
    const granted = scopes === null || !grantRule ? null : grantedRisks(grantRule, scopes);
    const scopeText = scopes === null ? 'no scopes known' : `scopes: ${scopes.join(', ') || 'none'}`;

    const privileged = enabled(rules, PRIVILEGED_TOOL);
    const scopeRule = enabled(rules, SCOPE_EXCEEDED);
    if (risk === 'privileged' && privileged && !granted?.has('privileged')) {
      out.push({
        rule: privileged.id,
        key_evidence: tool,
        score: privileged.confidence,
        title: `Privileged tool ${tool} used without a privileged grant`,
        evidence: [`tool ${tool} is privileged and no scope of the agent grants privileged (${scopeText})`],
      });
    } else if (scopeRule && granted && stringsParam(scopeRule, 'judged_risks').includes(risk) && !granted.has(risk)) {
      out.push({
        rule: scopeRule.id,
        key_evidence: tool,
        score: scopeRule.confidence,
        title: `Tool ${tool} (${risk}) exceeds the agent's scopes`,
        evidence: [
          `tool ${tool} has risk class ${risk}; the agent's ${scopeText} grant ${[...granted].join(', ') || 'nothing'}`,
        ],
      });
    }

    const fresh = enabled(rules, NEW_HIGH_RISK_TOOL);
    if (fresh && !measurement.learning && stringsParam(fresh, 'high_risks').includes(risk)) {
      const novelty = measurement.categorical.find((c) => c.field === 'tool' && c.value === tool);
      if (novelty?.novel)
        out.push({
          rule: fresh.id,
          key_evidence: tool,
          score: Math.min(1, fresh.confidence * (1 - novelty.p) + 0.1),
          title: `First use of ${risk} tool ${tool}`,
          evidence: [
            `tool ${tool} (risk ${risk}) was never used in ${hours(measurement.ageMs)} of this agent's baseline (P(new tool) ${novelty.p.toFixed(3)})`,
          ],
        });
    }
    return out;
  },
};

/** Grants per rule (compiled once per pack version and tenant) and set of scopes: agents repeat theirs on every event. */
const grantsOf = new WeakMap<Rule, Map<string, ReadonlySet<string>>>();
const MAX_SCOPE_SETS = 4096;

/** The risk classes a set of scopes grants, by the rule's `scope_grants`. */
export function grantedRisks(rule: Rule, scopes: readonly string[]): ReadonlySet<string> {
  let known = grantsOf.get(rule);
  if (known === undefined) grantsOf.set(rule, (known = new Map<string, ReadonlySet<string>>()));
  const key = scopes.join('\u0000');
  let granted = known.get(key);
  if (granted === undefined) {
    granted = computeGrants(rule, scopes);
    if (known.size >= MAX_SCOPE_SETS) known.clear();
    known.set(key, granted);
  }
  return granted;
}

function computeGrants(rule: Rule, scopes: readonly string[]): Set<string> {
  const grants = mapParam(rule, 'scope_grants');
  const out = new Set<string>();
  for (const scope of scopes)
    for (const [pattern, risks] of Object.entries(grants))
      if (globMatch(pattern, scope)) for (const risk of risks) out.add(risk);
  return out;
}
