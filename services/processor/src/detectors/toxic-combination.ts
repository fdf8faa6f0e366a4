import type { AiEvent } from '@aispm/core';
import { contentVerdicts } from './content-detections.ts';
import { matchesAny } from './glob.ts';
import { enabled, numberParam, stringsParam } from './params.ts';
import { isInternal } from './policy.ts';
import type { Detection, Detector, InventoryPolicy, Rule } from './types.ts';

export const LETHAL_TRIFECTA = 'toxic_combination.lethal_trifecta';

/** The newest evidence of one leg: when (event time, ms) and through what (a tool, a kind, a detection). */
export interface Leg {
  ms: number;
  via: string;
  /** The event that gave this evidence, so the finding names all three (absent in memos from before). */
  event?: string;
}

/**
 * What the detector remembers per agent: the newest evidence of each leg and
 * when it last fired. Bounded by construction: three legs of one short string
 * (at most MAX_VIA characters) and one number.
 */
export interface TrifectaMemo {
  untrusted: Leg | null;
  private: Leg | null;
  egress: Leg | null;
  fired_ms: number | null;
}

export const MAX_VIA = 128;
const LEGS = ['untrusted', 'private', 'egress'] as const;
type LegName = (typeof LEGS)[number];
const INDIRECT = new Set(['tool_output', 'retrieved_doc']);

/**
 * The lethal trifecta (toxic combination) of one agent: within `window_minutes`
 * of event time, it
 * - took in untrusted content: an event of a kind in `untrusted_kinds`
 *   (retrieval), a tool matching `untrusted_tools` (web, email, tickets), or an
 *   `injection` verdict on a tool output or retrieved document;
 * - read private data: a tool matching `private_tools`, or a `sensitive` verdict
 *   on a tool output or retrieved document;
 * - can send data out: a tool of a class in `egress_risks` or matching
 *   `egress_tools`, or a tool call to an external destination (policy.isInternal)
 *   with a class in `external_write_risks`.
 * Verdicts count from `min_detection_score`. It fires on the event that completes
 * the three, then at most once per window while they stay present: a posture
 * finding on the agent (key evidence: the agent, so it is one finding), critical
 * when the untrusted content carried an injection.
 */
export const toxicCombination: Detector<TrifectaMemo> = {
  id: 'toxic_combination',
  rules: {
    [LETHAL_TRIFECTA]: {
      window_minutes: 'number',
      untrusted_kinds: 'strings',
      untrusted_tools: 'strings',
      private_tools: 'strings',
      egress_tools: 'strings',
      egress_risks: 'strings',
      external_write_risks: 'strings',
      min_detection_score: 'fraction',
    },
  },
  initial: () => ({ untrusted: null, private: null, egress: null, fired_ms: null }),
  accepts: (memo): memo is TrifectaMemo =>
    typeof memo === 'object' && memo !== null && LEGS.every((leg) => leg in memo) && 'fired_ms' in memo,
  detect({ event, view, rules, policy }, memo) {
    const rule = enabled(rules, LETHAL_TRIFECTA);
    if (!rule) return [];
    const ms = event.time / 1000;
    const found = legsOf(event, rule, policy);
    if (found.length === 0) return [];
    const windowMs = numberParam(rule, 'window_minutes') * 60_000;
    for (const [leg, via] of found) {
      const known = memo[leg];
      if (known && known.ms > ms) continue;
      // Untrusted content that carried an injection is kept over plainer evidence while it is in the window.
      if (known && isInjection(known.via) && !isInjection(via) && ms - known.ms <= windowMs) continue;
      memo[leg] = { ms, via: via.slice(0, MAX_VIA), event: event.event_id.slice(0, MAX_VIA) };
    }
    const { untrusted, private: secret, egress } = memo;
    if (!untrusted || !secret || !egress) return [];
    const times = [untrusted.ms, secret.ms, egress.ms];
    if (Math.max(...times) - Math.min(...times) > windowMs) return [];
    if (memo.fired_ms !== null && Math.abs(ms - memo.fired_ms) < windowMs) return [];
    memo.fired_ms = ms;
    const injected = isInjection(untrusted.via);
    return [
      {
        rule: rule.id,
        key_evidence: view.name,
        // The events of the three legs: the one completing the trifecta may be an ordinary call.
        event_ids: [untrusted.event, secret.event, egress.event].filter((e): e is string => e !== undefined),
        score: injected ? Math.max(rule.confidence, 0.9) : rule.confidence,
        ...(injected ? { severity: 'critical' as const } : {}),
        title: `Lethal trifecta on ${view.entity} ${view.name}: untrusted content, private data and a way out`,
        evidence: [
          `untrusted content via ${untrusted.via}`,
          `private data via ${secret.via}`,
          `can send data out via ${egress.via}`,
          `all three within ${Math.ceil((Math.max(...times) - Math.min(...times)) / 60_000)} min (window ${numberParam(rule, 'window_minutes')} min)`,
        ],
      } satisfies Detection,
    ];
  },
};

const isInjection = (via: string): boolean => via.startsWith('injection ');

function legsOf(event: AiEvent, rule: Rule, policy: InventoryPolicy): [LegName, string][] {
  const legs: [LegName, string][] = [];
  const tool = event.tool_name;
  if (stringsParam(rule, 'untrusted_kinds').includes(event.kind))
    legs.push(['untrusted', `${event.kind}${tool ? ` ${tool}` : ''}`]);
  else if (tool && matchesAny(stringsParam(rule, 'untrusted_tools'), tool)) legs.push(['untrusted', `tool ${tool}`]);
  if (tool && matchesAny(stringsParam(rule, 'private_tools'), tool)) legs.push(['private', `tool ${tool}`]);
  if (tool) {
    const risk = event.tool_risk ?? 'unknown';
    if (stringsParam(rule, 'egress_risks').includes(risk) || matchesAny(stringsParam(rule, 'egress_tools'), tool))
      legs.push(['egress', `tool ${tool} (${risk})`]);
    else if (
      event.kind === 'tool_call' &&
      event.destination &&
      !isInternal(policy, event.destination) &&
      stringsParam(rule, 'external_write_risks').includes(risk)
    )
      legs.push(['egress', `tool ${tool} (${risk}) to external ${event.destination}`]);
  }
  const minScore = numberParam(rule, 'min_detection_score');
  for (const v of contentVerdicts(event)) {
    if (v.score < minScore || !INDIRECT.has(v.channel)) continue;
    if (v.detector === 'injection' && !legs.some(([l, via]) => l === 'untrusted' && isInjection(via)))
      legs.push(['untrusted', `injection ${v.kind} in ${v.channel}${tool ? ` of ${tool}` : ''}`]);
    if (v.detector === 'sensitive' && !legs.some(([l]) => l === 'private'))
      legs.push(['private', `sensitive ${v.kind} in ${v.channel}${tool ? ` of ${tool}` : ''}`]);
  }
  // An injection is the strongest evidence of untrusted content: it wins over a tool-name match in the same event.
  const injection = legs.find(([l, via]) => l === 'untrusted' && isInjection(via));
  return injection ? [...legs.filter(([l]) => l !== 'untrusted'), injection] : legs;
}
