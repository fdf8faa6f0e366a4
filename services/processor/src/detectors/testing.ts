import { sampleEvent, type AiEvent, type ToolRisk } from '@aispm/core';
import { baselineContext, newAgentBaseline, observe, type AgentBaseline } from '../baseline/agent.ts';
import { agentView } from '../baseline/view.ts';
import type { ContentVerdict } from './content-detections.ts';
import { createDetectionEngine, type BehaviourFinding, type DetectionEngine, type DetectorMemos } from './engine.ts';
import { EMPTY_POLICY } from './policy.ts';
import { loadRules, type CompiledRules } from './rule-pack.ts';
import type { Detector, InventoryPolicy } from './types.ts';

/**
 * Scenario helpers for the detector tests: events built on sampleEvent, and a
 * session that measures each event against a real baseline (baseline/agent.ts
 * `observe`, as the Scorer does) before running the engine, with the memos
 * round-tripped through JSON between events as a checkpoint would.
 */
export const T0_MS = Date.UTC(2026, 10, 2, 9);

export type EventOverrides = Omit<Partial<AiEvent>, 'detections'> & { detections?: ContentVerdict[] };

let serial = 0;

/** An event `seconds` after T0: a model call of the billing agent unless overridden; no content verdicts. */
export function event(seconds: number, overrides: EventOverrides = {}): AiEvent {
  const { detections = [], ...rest } = overrides;
  const e = sampleEvent({
    event_id: `ev-${++serial}`,
    time: (T0_MS + seconds * 1000) * 1000,
    kind: 'llm_call',
    operation: 'chat',
    tool_name: null,
    tool_risk: null,
    destination: 'api.openai.com',
    provider: 'openai',
    request_model: 'gpt-4o',
    response_model: 'gpt-4o-2024-08-06',
    input_tokens: 400,
    output_tokens: 100,
    attributes: {},
    ...rest,
  });
  // Verdicts replace the sample's (it carries one); set through the structural type so this compiles with or without AiEvent.detections.
  (e as { detections?: readonly ContentVerdict[] }).detections = detections;
  return e;
}

/** A tool call `seconds` after T0. */
export function toolCall(
  seconds: number,
  tool: string,
  risk: ToolRisk,
  destination: string | null,
  overrides: EventOverrides = {},
): AiEvent {
  return event(seconds, {
    kind: 'tool_call',
    operation: 'execute_tool',
    tool_name: tool,
    tool_risk: risk,
    destination,
    input_tokens: null,
    output_tokens: null,
    latency_ms: 120,
    ...overrides,
  });
}

/** A content verdict as the shim or gateway would attach it. */
export function verdict(
  detector: ContentVerdict['detector'],
  kind: string,
  channel: ContentVerdict['channel'],
  overrides: Partial<ContentVerdict> = {},
): ContentVerdict {
  return {
    detector,
    rule: `${detector}.${kind}`,
    kind,
    channel,
    score: 0.9,
    severity: 'high',
    via: 'text',
    ...overrides,
  };
}

/**
 * The billing agent's routine, 4 events a cycle every `everyS` seconds: a model
 * call, an invoice lookup (read, internal), a model call, an e-mail (egress,
 * internal). 120 events at 30 s: an hour, past the baseline's learning (50
 * events and 30 minutes by default).
 */
export function routine(count = 120, everyS = 30, startS = 0): AiEvent[] {
  const events: AiEvent[] = [];
  for (let i = 0; i < count; i++) {
    const t = startS + i * everyS;
    const jitter = (i * 37) % 11;
    if (i % 4 === 1) events.push(toolCall(t, 'lookup_invoice', 'read', 'billing.acme.example'));
    else if (i % 4 === 3) events.push(toolCall(t, 'send_email', 'egress', 'smtp.acme.example'));
    else events.push(event(t, { input_tokens: 380 + jitter * 5, output_tokens: 90 + jitter * 2 }));
  }
  return events;
}

export const DEFAULT_RULES: CompiledRules = loadRules();

export interface SessionOptions {
  rules?: CompiledRules;
  policy?: InventoryPolicy;
  detectors?: readonly Detector[];
}

/** One key's events through a real baseline and the engine. */
export class Session {
  readonly engine: DetectionEngine;
  private readonly ctx = baselineContext();
  private state: AgentBaseline | null = null;
  memos: DetectorMemos = {};
  /** Every finding so far, in order. */
  readonly all: BehaviourFinding[] = [];

  constructor(options: SessionOptions = {}) {
    this.engine = createDetectionEngine({
      rules: options.rules ?? DEFAULT_RULES,
      policy: options.policy ?? EMPTY_POLICY,
      ...(options.detectors ? { detectors: options.detectors } : {}),
    });
  }

  /** Measures, detects, then (inside observe) learns; returns this event's findings. */
  feed(e: AiEvent): BehaviourFinding[] {
    const view = agentView(e);
    this.state ??= newAgentBaseline(e, view, this.ctx);
    const measurement = observe(this.state, e, this.ctx);
    const found = this.engine.findings({ event: e, view, measurement }, this.memos);
    // A checkpoint and restore between events: memos must survive JSON.
    this.memos = JSON.parse(JSON.stringify(this.memos)) as DetectorMemos;
    this.all.push(...found);
    return found;
  }

  /** Feeds every event; returns their findings. */
  feedAll(events: readonly AiEvent[]): BehaviourFinding[] {
    return events.flatMap((e) => this.feed(e));
  }
}

/** The rule ids of some findings, in order. */
export const rulesOf = (findings: readonly BehaviourFinding[]): string[] => findings.map((f) => f.rule);
