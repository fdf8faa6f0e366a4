import { AispmError } from '@aispm/core';

/**
 * Errors of guard mode (register({ guard })). Codes:
 * - `guard_blocked`: the policy blocked a prompt, a tool's arguments or a tool's result; the provider or the tool
 *   was not called (or its result was not handed on). GuardBlockedError.
 * - `guard_unavailable`: the guard could not load (an invalid policy, an unreadable policy file); guarded calls
 *   fail rather than go out unchecked.
 * - `guard_not_ready`: a synchronous guarded call (withTool) ran before the guard had loaded; await
 *   shim.guardReady() once at start-up.
 */
export const GUARD_ERROR_CODES = {
  blocked: 'guard_blocked',
  unavailable: 'guard_unavailable',
  notReady: 'guard_not_ready',
} as const;

export class GuardError extends AispmError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'GuardError';
  }
}

/** One verdict, as on events (ContentDetection): the excerpt is redacted and bounded, never the raw text. */
export interface GuardVerdict {
  detector: string;
  rule: string;
  kind: string;
  channel: string;
  score: number;
  severity: string;
  excerpt: string;
  start: number;
  end: number;
  via: string;
}

export interface GuardBlock {
  /** What was guarded: a model call's prompt (`llm`) or a tool call (`tool_call`). */
  target: 'llm' | 'tool_call';
  /** `input`: the prompt or the tool's arguments; `output`: the tool's result. */
  direction: 'input' | 'output';
  /** The provider (openai, anthropic, ai-sdk) or the tool's name. */
  subject: string;
  /** The channel of the text that was blocked: user_prompt, tool_output, ... */
  channel: string;
  /** The policy and the entry of it that decided. */
  policy: string;
  rule: string;
  /** The guard's own verdict first, then the detectors'. */
  detections: GuardVerdict[];
}

/** The guard blocked a call: nothing was sent to the provider, or the tool did not run, or its result was withheld. */
export class GuardBlockedError extends GuardError implements GuardBlock {
  readonly target: GuardBlock['target'];
  readonly direction: GuardBlock['direction'];
  readonly subject: string;
  readonly channel: string;
  readonly policy: string;
  readonly rule: string;
  readonly detections: GuardVerdict[];

  constructor(block: GuardBlock) {
    super(GUARD_ERROR_CODES.blocked, blockedMessage(block));
    this.name = 'GuardBlockedError';
    this.target = block.target;
    this.direction = block.direction;
    this.subject = block.subject;
    this.channel = block.channel;
    this.policy = block.policy;
    this.rule = block.rule;
    this.detections = block.detections;
  }
}

const WHAT: Record<string, string> = {
  injection: 'prompt injection',
  sensitive: 'sensitive data',
  guardrail: 'guardrail verdict',
};

function blockedMessage(block: GuardBlock): string {
  const decisive = block.detections[0];
  const found = block.detections.find((d) => d.detector !== 'guardrail') ?? decisive;
  const what = found
    ? `${WHAT[found.detector] ?? found.detector} (${found.kind}, score ${found.score}) in ${block.channel}`
    : `content in ${block.channel}`;
  const call =
    block.target === 'llm'
      ? `the ${block.subject} model call; the request was not sent`
      : block.direction === 'input'
        ? `tool ${block.subject}; it was not run`
        : `the result of tool ${block.subject}; it was not handed on`;
  const allow = found
    ? `{"detector":"${found.detector}","kind":"${found.kind}","channels":["${block.channel}"],"action":"allow"}`
    : `{"channels":["${block.channel}"],"action":"allow"}`;
  return (
    `aispm guard blocked ${call}: ${what} matched rule "${block.rule}" of guard policy "${block.policy}". ` +
    `To let such text through, add an entry such as ${allow} to the policy's rules ` +
    `(register({ guard: { policy } }); format: services/core/src/detect/guard/README.md).`
  );
}
