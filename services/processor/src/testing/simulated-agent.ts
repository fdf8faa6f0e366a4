import { sampleEvent, type AiEvent } from '@aispm/core';

/**
 * A deterministic simulated agent for scenario tests: a fixed loop of actions
 * (chat, a lookup, chat, then one of two follow-up tools), log-normal tokens and
 * latencies, a small pool of users, one model and one identity.
 */
export interface SimulatedAgent {
  agent: string;
  /** Mean seconds between events. */
  everyS: number;
  inputTokens: number;
  outputTokens: number;
}

/** mulberry32: a small seeded generator, so every run sees the same traffic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const logNormal = (random: () => number, median: number, sigma: number): number => {
  const u = Math.max(random(), 1e-12);
  const v = random();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
};

export const T0_MS = Date.UTC(2026, 9, 5);

/** `count` events of one agent from `startMs`, in time order. */
export function agentTraffic(agent: SimulatedAgent, startMs: number, count: number, seed: number): AiEvent[] {
  const random = rng(seed);
  const events: AiEvent[] = [];
  let timeMs = startMs;
  for (let i = 0; i < count; i++) {
    timeMs += agent.everyS * 1000 * (0.5 + random());
    events.push(agentEvent(agent, timeMs, i % 4, random));
  }
  return events;
}

/** Step `step` of the agent's loop at `timeMs`. */
export function agentEvent(
  agent: SimulatedAgent,
  timeMs: number,
  step: number,
  random: () => number,
  overrides: Partial<AiEvent> = {},
): AiEvent {
  const id = Math.floor(random() * 2 ** 48)
    .toString(16)
    .padStart(12, '0');
  const common: Partial<AiEvent> = {
    event_id: `${agent.agent}-${id}`,
    span_id: id.padStart(16, '0'),
    time: Math.round(timeMs) * 1000,
    app: 'billing',
    agent: agent.agent,
    user: `cust-${Math.floor(random() * 20)}`,
    identity: `svc-${agent.agent}@acme`,
    content: { policy: 'none', prompt: null, completion: null, tool_arguments: null, tool_result: null },
    attributes: {},
  };
  const llm: Partial<AiEvent> = {
    kind: 'llm_call',
    operation: 'chat',
    provider: 'openai',
    request_model: 'gpt-4o',
    response_model: 'gpt-4o-2024-08-06',
    tool_name: null,
    tool_risk: null,
    destination: 'api.openai.com',
    input_tokens: Math.round(logNormal(random, agent.inputTokens, 0.3)),
    output_tokens: Math.round(logNormal(random, agent.outputTokens, 0.4)),
    latency_ms: logNormal(random, 900, 0.4),
  };
  const tool = (name: string, destination: string): Partial<AiEvent> => ({
    kind: 'tool_call',
    operation: 'execute_tool',
    provider: null,
    request_model: null,
    response_model: null,
    tool_name: name,
    tool_risk: 'read',
    destination,
    input_tokens: null,
    output_tokens: null,
    latency_ms: logNormal(random, 150, 0.5),
  });
  const fields =
    step % 2 === 0
      ? llm
      : step === 1
        ? tool('lookup_invoice', 'billing.acme.internal')
        : random() < 0.7
          ? tool('create_invoice', 'billing.acme.internal')
          : tool('send_receipt', 'smtp.acme.internal');
  return sampleEvent({ ...common, ...fields, ...overrides });
}
