import type { AiEvent } from './types.ts';

/** A complete, valid event with every field set, for tests and examples. */
export function sampleEvent(overrides: Partial<AiEvent> = {}): AiEvent {
  return {
    event_id: '4bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b7',
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    span_id: '00f067aa0ba902b7',
    parent_span_id: '53995c3f42cd8ad8',
    tenant: 'acme',
    time: Date.UTC(2026, 10, 22, 10, 0, 0) * 1000 + 123,
    kind: 'tool_call',
    operation: 'execute_tool',
    app: 'support-copilot',
    environment: 'prod',
    agent: 'billing-bot',
    user: 'u-42',
    identity: 'svc-billing@acme',
    scopes: ['invoices:read', 'email:send'],
    conversation_id: 'conv-9',
    provider: 'openai',
    request_model: 'gpt-4o',
    response_model: 'gpt-4o-2024-08-06',
    tool_name: 'send_email',
    tool_risk: 'egress',
    destination: 'smtp.acme.example',
    input_tokens: 812,
    output_tokens: 96,
    latency_ms: 412.5,
    status: 'ok',
    error_type: null,
    finish_reasons: ['tool_calls'],
    content: {
      policy: 'redacted',
      prompt: 'Email [EMAIL] the invoice',
      completion: null,
      tool_arguments: '{"to":"[EMAIL]"}',
      tool_result: null,
    },
    attributes: { 'gen_ai.tool.call.id': 'call_1' },
    attribution: 'own',
    ...overrides,
  };
}
