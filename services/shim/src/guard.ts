import type { Span } from '@opentelemetry/api';
import { createGuard, GEN_AI_GUARDRAIL, type ContentChannel, type GuardAction } from '@aispm/core';
import { AISPM } from './attributes.ts';
import { GuardBlockedError, type GuardBlock, type GuardVerdict } from './guard-error.ts';
import type { GuardOptions, LoadedGuard, RequestShape } from './guard-hook.ts';
import { obj, type Json } from './json.ts';

/**
 * Guard mode's engine side, loaded only through guard-hook.ts's dynamic import:
 * reads the texts of a request (or a tool's arguments or result), asks core's
 * guard, throws on block, rewrites redacted texts into a copy of the request, and
 * records the verdict on the span (attributes of the OpenTelemetry GenAI guardrail
 * proposal, semantic-conventions-genai PR #427, and one
 * `gen_ai.guardrail.security.finding` event per decision).
 */
type Channel = ContentChannel;
type Action = GuardAction;

/** One text of a request: where it sits (a path of keys into the request) and which channel it came in on. */
interface Slot {
  path: (string | number)[];
  text: string;
  channel: Channel;
}

interface Target {
  type: 'input' | 'output';
  subtype: 'llm' | 'tool_call';
  subject: string;
}

/** Texts of one request checked at most, and how deep a JSON value is walked. */
const MAX_SLOTS = 256;
const MAX_DEPTH = 8;
const RANK: Record<Action, number> = { allow: 0, redact: 1, block: 2 };
const COMPONENT = 'aispm';

export function loadGuard(options: GuardOptions, warn: (message: string) => void): LoadedGuard {
  const guard = createGuard({ policy: options.policy as NonNullable<Parameters<typeof createGuard>[0]>['policy'] });
  const onBlock = options.onBlock;
  /** Per span: the strongest action recorded so far and every verdict, so a tool's result does not erase its arguments' verdict. */
  const recorded = new WeakMap<Span, { rank: number; detections: GuardVerdict[] }>();

  function run<T>(span: Span, root: T, slots: Slot[], target: Target): T {
    let action: Action = 'allow';
    let decisive: { detections: GuardVerdict[]; rule: string; channel: Channel } | null = null;
    const all: GuardVerdict[] = [];
    const rewrites: Slot[] = [];
    for (const slot of slots) {
      const result = guard.check(slot.text, slot.channel);
      all.push(...result.detections);
      if (result.action === 'redact' && result.text !== slot.text) rewrites.push({ ...slot, text: result.text });
      if (RANK[result.action] > RANK[action]) {
        action = result.action;
        decisive = { detections: result.detections, rule: result.rule ?? 'default', channel: slot.channel };
      }
      if (action === 'block') break;
    }
    const modified = action !== 'block' && rewrites.length > 0;
    record(span, target, action, modified, decisive, all);
    if (action === 'block' && decisive !== null) {
      const error = new GuardBlockedError({
        target: target.subtype,
        direction: target.type,
        subject: target.subject,
        channel: decisive.channel,
        policy: guard.policy.id,
        rule: decisive.rule,
        detections: decisive.detections,
      } satisfies GuardBlock);
      if (onBlock !== undefined) {
        try {
          onBlock(error);
        } catch (err) {
          warn(`aispm guard: onBlock threw: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      throw error;
    }
    let out: unknown = root;
    for (const slot of rewrites) out = setPath(out, slot.path, slot.text);
    return out as T;
  }

  function record(
    span: Span,
    target: Target,
    action: Action,
    modified: boolean,
    decisive: { detections: GuardVerdict[]; rule: string; channel: Channel } | null,
    detections: GuardVerdict[],
  ): void {
    try {
      const previous = recorded.get(span);
      const merged = [...(previous?.detections ?? []), ...detections].slice(0, 16);
      recorded.set(span, { rank: Math.max(previous?.rank ?? 0, RANK[action]), detections: merged });
      if (merged.length > 0) span.setAttribute(AISPM.guardDetections, JSON.stringify(merged));
      // The span's guardrail attributes describe its strongest check (a tool's arguments or its result).
      if (previous !== undefined && previous.rank > RANK[action]) return;
      const own = decisive?.detections[0];
      span.setAttributes({
        [GEN_AI_GUARDRAIL.componentName]: COMPONENT,
        [GEN_AI_GUARDRAIL.policyId]: guard.policy.id,
        [GEN_AI_GUARDRAIL.targetType]: target.type,
        [GEN_AI_GUARDRAIL.targetSubtype]: target.subtype,
        [GEN_AI_GUARDRAIL.verdictType]: action === 'block' ? 'deny' : action === 'redact' ? 'modify' : 'allow',
        [GEN_AI_GUARDRAIL.actionType]: action === 'block' ? 'block' : modified ? 'modify' : 'allow',
      });
      if (action === 'allow' || own === undefined || decisive === null) return;
      const found = decisive.detections.find((d) => d.detector !== 'guardrail') ?? own;
      const finding = {
        [GEN_AI_GUARDRAIL.componentName]: COMPONENT,
        [GEN_AI_GUARDRAIL.policyId]: guard.policy.id,
        [GEN_AI_GUARDRAIL.policyRuleId]: decisive.rule,
        [GEN_AI_GUARDRAIL.riskCategory]: riskCategory(found),
        [GEN_AI_GUARDRAIL.riskScore]: own.score,
        [GEN_AI_GUARDRAIL.verdictType]: action === 'block' ? 'deny' : 'modify',
        [GEN_AI_GUARDRAIL.actionType]: action === 'block' ? 'block' : modified ? 'modify' : 'allow',
        [GEN_AI_GUARDRAIL.verdictReason]: `${riskCategory(found)} (${found.kind}) in ${decisive.channel}`,
        [GEN_AI_GUARDRAIL.targetType]: target.type,
        [GEN_AI_GUARDRAIL.targetSubtype]: target.subtype,
      };
      span.setAttributes({
        [GEN_AI_GUARDRAIL.policyRuleId]: decisive.rule,
        [GEN_AI_GUARDRAIL.riskCategory]: finding[GEN_AI_GUARDRAIL.riskCategory],
        [GEN_AI_GUARDRAIL.riskScore]: own.score,
        [GEN_AI_GUARDRAIL.verdictReason]: finding[GEN_AI_GUARDRAIL.verdictReason],
        [GEN_AI_GUARDRAIL.contentModified]: modified,
      });
      span.addEvent(GEN_AI_GUARDRAIL.findingEvent, finding);
    } catch {
      // Recording stays inside the shim; the decision stands.
    }
  }

  return {
    request(span, shape, body, provider) {
      return run(span, body, requestSlots(shape, body), { type: 'input', subtype: 'llm', subject: provider });
    },
    toolArguments(span, tool, args) {
      return run(span, args, valueSlots(args, 'tool_arguments'), {
        type: 'input',
        subtype: 'tool_call',
        subject: tool,
      });
    },
    toolResult(span, tool, result) {
      return run(span, result, resultSlots(result), {
        type: 'output',
        subtype: 'tool_call',
        subject: tool,
      });
    },
    aiPrompt(span, prompt) {
      return run(span, prompt, aiPromptSlots(prompt), { type: 'input', subtype: 'llm', subject: 'ai-sdk' });
    },
  };
}

function riskCategory(d: GuardVerdict): string {
  if (d.detector === 'injection')
    return d.kind === 'jailbreak'
      ? 'jailbreak'
      : d.kind === 'system_prompt_extraction'
        ? 'system_prompt_leakage'
        : 'prompt_injection';
  if (d.detector === 'sensitive') return 'sensitive_info_disclosure';
  return d.kind;
}

/**
 * The texts of a provider request, each with its channel: what the user sent (user_prompt), tools' results
 * (tool_output), earlier model answers (completion). System and developer instructions are the app's own and
 * are not checked; nor are the model's earlier tool calls.
 */
function requestSlots(shape: RequestShape, body: Json): Slot[] {
  const out: Slot[] = [];
  switch (shape) {
    case 'openai.chat':
      list(body.messages).forEach((raw, i) => {
        const m = obj(raw);
        const channel = roleChannel(m.role);
        if (channel !== null) contentSlots(m.content, ['messages', i, 'content'], channel, out);
      });
      break;
    case 'openai.responses': {
      if (typeof body.input === 'string') out.push({ path: ['input'], text: body.input, channel: 'user_prompt' });
      list(body.input).forEach((raw, i) => {
        const item = obj(raw);
        if (item.type === 'function_call_output') {
          if (typeof item.output === 'string')
            out.push({ path: ['input', i, 'output'], text: item.output, channel: 'tool_output' });
          else contentSlots(item.output, ['input', i, 'output'], 'tool_output', out);
          return;
        }
        if (item.type === 'function_call') return;
        const channel = roleChannel(item.role ?? 'user');
        if (channel !== null) contentSlots(item.content, ['input', i, 'content'], channel, out);
      });
      break;
    }
    case 'anthropic.messages':
      list(body.messages).forEach((raw, i) => {
        const m = obj(raw);
        const channel = roleChannel(m.role);
        if (channel === null) return;
        if (typeof m.content === 'string') {
          out.push({ path: ['messages', i, 'content'], text: m.content, channel });
          return;
        }
        list(m.content).forEach((rawBlock, j) => {
          const block = obj(rawBlock);
          const path = ['messages', i, 'content', j];
          if (block.type === 'text' && typeof block.text === 'string')
            out.push({ path: [...path, 'text'], text: block.text, channel });
          if (block.type === 'tool_result') {
            if (typeof block.content === 'string')
              out.push({ path: [...path, 'content'], text: block.content, channel: 'tool_output' });
            else contentSlots(block.content, [...path, 'content'], 'tool_output', out);
          }
        });
      });
      break;
  }
  return out.slice(0, MAX_SLOTS);
}

/** An `ai` SDK prompt (LanguageModelV3Prompt): user text parts, assistant text parts, tool results. */
function aiPromptSlots(prompt: unknown): Slot[] {
  const out: Slot[] = [];
  list(prompt).forEach((raw, i) => {
    const m = obj(raw);
    if (m.role === 'system') return;
    if (typeof m.content === 'string') {
      const channel = roleChannel(m.role);
      if (channel !== null) out.push({ path: [i, 'content'], text: m.content, channel });
      return;
    }
    list(m.content).forEach((rawPart, j) => {
      const part = obj(rawPart);
      if (part.type === 'text' && typeof part.text === 'string') {
        const channel = roleChannel(m.role);
        if (channel !== null) out.push({ path: [i, 'content', j, 'text'], text: part.text, channel });
      }
      if (part.type === 'tool-result') {
        const output = obj(part.output);
        if (typeof output.value === 'string')
          out.push({ path: [i, 'content', j, 'output', 'value'], text: output.value, channel: 'tool_output' });
        else if (output.value !== undefined)
          walk(output.value, [i, 'content', j, 'output', 'value'], 'tool_output', out, 0);
      }
    });
  });
  return out.slice(0, MAX_SLOTS);
}

function roleChannel(role: unknown): Channel | null {
  switch (role) {
    case 'user':
      return 'user_prompt';
    case 'tool':
      return 'tool_output';
    case 'assistant':
      return 'completion';
    default:
      return null;
  }
}

/** A message's content: a string, or parts whose `text` is text (OpenAI text / input_text / output_text parts). */
function contentSlots(content: unknown, path: (string | number)[], channel: Channel, out: Slot[]): void {
  if (typeof content === 'string') {
    out.push({ path, text: content, channel });
    return;
  }
  list(content).forEach((raw, i) => {
    const part = obj(raw);
    if (typeof part.text === 'string') out.push({ path: [...path, i, 'text'], text: part.text, channel });
  });
}

/**
 * A tool's result: an MCP CallToolResult's text content and structured content (not its type tags and
 * metadata), else every string in it.
 */
function resultSlots(result: unknown): Slot[] {
  const r = obj(result);
  if (!Array.isArray(r.content)) return valueSlots(result, 'tool_output');
  const out: Slot[] = [];
  r.content.forEach((raw, i) => {
    const item = obj(raw);
    if (typeof item.text === 'string')
      out.push({ path: ['content', i, 'text'], text: item.text, channel: 'tool_output' });
  });
  if (r.structuredContent !== undefined) walk(r.structuredContent, ['structuredContent'], 'tool_output', out, 0);
  return out.slice(0, MAX_SLOTS);
}

/** Every string in a JSON value (a tool's arguments or result), bounded in depth and count. */
function valueSlots(value: unknown, channel: Channel): Slot[] {
  const out: Slot[] = [];
  walk(value, [], channel, out, 0);
  return out;
}

function walk(value: unknown, path: (string | number)[], channel: Channel, out: Slot[], depth: number): void {
  if (out.length >= MAX_SLOTS) return;
  if (typeof value === 'string') {
    if (value !== '') out.push({ path, text: value, channel });
    return;
  }
  if (depth >= MAX_DEPTH || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, [...path, i], channel, out, depth + 1));
    return;
  }
  for (const [key, item] of Object.entries(value)) walk(item, [...path, key], channel, out, depth + 1);
}

/** `root` with the value at `path` replaced, copying each object and array on the way: the app's own objects stay as they are. */
function setPath(root: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [key, ...rest] = path;
  if (Array.isArray(root)) {
    const copy = [...(root as unknown[])];
    copy[key as number] = setPath(copy[key as number], rest, value);
    return copy;
  }
  const record = obj(root);
  return { ...record, [key!]: setPath(record[key!], rest, value) };
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
