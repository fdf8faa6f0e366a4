import type { AiEvent, Severity } from '@aispm/core';
import type { Measurement } from '../baseline/agent.ts';
import type { EntityView } from '../baseline/view.ts';

/**
 * The Detector seam (issue 21): small implementations behind one interface, run
 * per event in the agents stage, in event order per key, after the event is
 * measured against its key's baseline (the Measurement is what the baseline knew
 * *before* this event: novelty, robust z, learning) and before it learns from it.
 *
 * A detector is a pure function of its input and its own bounded memo for the
 * key; the memo is checkpointed with the key's baseline and restored on restart
 * or rebalance, so a replay detects exactly what the first run did. Never the
 * wall clock: times come from events.
 */
export interface Detector<Memo = unknown> {
  /** Stable id, also the finding `type` of what it raises: `excessive_agency`, `shadow_ai`, ... */
  readonly id: string;
  /**
   * The rules it raises, each with the params it reads: the rule-pack loader checks
   * that the pack has every one of them (and no rule no detector raises), and that
   * each rule's params (and every tenant override of them) have exactly these names and types.
   */
  readonly rules: Readonly<Record<string, ParamSpec>>;
  /** A fresh memo for a key never seen (JSON-serialisable, bounded). */
  initial(): Memo;
  /**
   * Whether a memo restored from a checkpoint has this detector's shape; one that
   * has not (written by another version) is replaced by initial(). Absent: any memo is taken.
   */
  accepts?(memo: unknown): memo is Memo;
  /** Reads the input, may update the memo in place (keeping it within its documented caps), returns what fired. */
  detect(input: DetectorInput, memo: Memo): Detection[];
}

/**
 * The type of one rule param, checked by the pack loader:
 * - `number`: a finite number ≥ 0; `count`: an integer ≥ 0; `fraction`: a number in [0, 1];
 * - `boolean`;
 * - `strings`: a list of non-empty strings (at most 256; globs where the detector says so);
 * - `string_map`: an object from non-empty strings to such lists (at most 256 keys).
 */
export type ParamType = 'number' | 'count' | 'fraction' | 'boolean' | 'strings' | 'string_map';
/** The params of one rule: name → type. */
export type ParamSpec = Readonly<Record<string, ParamType>>;

export interface DetectorInput {
  event: AiEvent;
  view: EntityView;
  measurement: Measurement;
  /** The rules in force for this event's tenant (pack defaults, then the tenant's overrides). */
  rules: RuleSet;
  policy: InventoryPolicy;
}

/** One rule of a rule pack, as compiled for a tenant. */
export interface Rule {
  id: string;
  detector: string;
  enabled: boolean;
  title: string;
  severity: Severity;
  /** In [0, 1]: how sure a firing is a true positive. */
  confidence: number;
  owasp_llm: string[];
  owasp_agentic: string[];
  mitre_atlas: string[];
  /** Thresholds and lists the detector reads; validated by the pack loader. */
  params: Record<string, unknown>;
}

export interface RuleSet {
  /** Enabled or not; undefined when the pack has no such rule. */
  get(id: string): Rule | undefined;
  /** The pack's name and version, for finding.model. */
  readonly version: string;
}

/** What a detector says about one event. The engine turns it into a Finding with a stable fingerprint. */
export interface Detection {
  /** The rule that fired (its metadata gives title, severity, framework ids). */
  rule: string;
  /** The asset the finding is about; default the event's entity (view). */
  asset?: { key: string; type: string };
  /** What identifies this problem on this asset across events (a tool name, a model, a destination): part of the fingerprint. */
  key_evidence: string;
  /** In [0, 1]. */
  score: number;
  /** Overrides the rule's severity when the evidence warrants it. */
  severity?: Severity;
  /** Overrides the rule's title (e.g. to name the tool). */
  title?: string;
  /** Plain-words reasons; names and numbers, never raw content. The engine redacts them again. */
  evidence: string[];
  /** Events besides the current one that the problem rests on (the legs of a combination). */
  event_ids?: string[];
}

/**
 * The inventory policy file (AISPM_POLICY_FILE): what is approved, who owns it,
 * what agents are granted. Anything not listed is unapproved (shadow AI) unless
 * the list is absent (then nothing of that kind is judged).
 */
export interface InventoryPolicy {
  version: string;
  approved: {
    providers?: string[];
    /** Exact names or globs (`gpt-4o*`). */
    models?: string[];
    /** Hosts of model endpoints and tool destinations (globs allowed). */
    endpoints?: string[];
    apps?: string[];
  };
  /** Owners per asset (`app:support-bot`, `agent:billing`, ...). */
  owners: Record<string, string>;
  /** Scopes each agent is granted, when its spans do not carry them. */
  agents: Record<string, { scopes?: string[]; owner?: string }>;
  /** Internal destinations (globs): everything else is external. */
  internal_destinations: string[];
}
