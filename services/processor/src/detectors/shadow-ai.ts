import { eventKey } from '@aispm/core';
import { enabled, stringsParam } from './params.ts';
import { approval, hostOf, type ApprovalKind } from './policy.ts';
import type { Detection, Detector, DetectorInput } from './types.ts';

export const SHADOW_PROVIDER = 'shadow_ai.provider';
export const SHADOW_MODEL = 'shadow_ai.model';
export const SHADOW_ENDPOINT = 'shadow_ai.endpoint';
export const SHADOW_APP = 'shadow_ai.app';

/**
 * Shadow AI: AI in use that the inventory policy does not approve
 * (policy.approval; a kind the policy has no list for is not judged).
 * - `provider`, `model` (the model asked for and the one that answered, each
 *   judged), `endpoint` (the destination host of the call): on events of a kind
 *   in the rule's `kinds` (model calls and embeddings); the finding is on the
 *   agent that uses it, keyed by the name, so one finding per agent and name;
 * - `app`: any event of an app not approved; the finding is on the app.
 * Stateless: the memo is null.
 */
export const shadowAi: Detector<null> = {
  id: 'shadow_ai',
  rules: {
    [SHADOW_PROVIDER]: { kinds: 'strings' },
    [SHADOW_MODEL]: { kinds: 'strings' },
    [SHADOW_ENDPOINT]: { kinds: 'strings' },
    [SHADOW_APP]: {},
  },
  initial: () => null,
  accepts: (memo): memo is null => memo === null,
  detect(input) {
    const { event, policy } = input;
    const out: Detection[] = [];
    const judge = (ruleId: string, kind: ApprovalKind, name: string | null, what: string): void => {
      const rule = enabled(input.rules, ruleId);
      if (!rule || name === null || name === '') return;
      if (ruleId !== SHADOW_APP && !stringsParam(rule, 'kinds').includes(event.kind)) return;
      if (approval(policy, kind, name) !== 'unapproved') return;
      out.push({
        rule: rule.id,
        key_evidence: name,
        score: rule.confidence,
        title: `Unapproved ${kind} ${name}`,
        evidence: [`${what} ${name} is not in the policy's approved ${kind}s (policy ${policy.version})`],
        ...(ruleId === SHADOW_APP ? { asset: appAsset(input) } : {}),
      });
    };
    judge(SHADOW_PROVIDER, 'provider', event.provider, 'provider');
    judge(SHADOW_MODEL, 'model', event.request_model, 'requested model');
    if (event.response_model !== event.request_model)
      judge(SHADOW_MODEL, 'model', event.response_model, 'responding model');
    judge(SHADOW_ENDPOINT, 'endpoint', event.destination === null ? null : hostOf(event.destination), 'endpoint');
    judge(SHADOW_APP, 'app', event.app, 'app');
    return out;
  },
};

/** The app's own asset (keyed like an app's events without an agent: tenant/app/-). */
const appAsset = ({ event }: DetectorInput): { key: string; type: string } => ({
  key: eventKey({ tenant: event.tenant, app: event.app, agent: null }),
  type: 'app',
});
