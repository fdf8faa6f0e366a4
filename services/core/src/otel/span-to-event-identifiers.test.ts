import { describe, expect, it } from 'vitest';
import type { AiEvent } from '../event/types.ts';
import type { AttributeValue, SpanInput } from './span-input.ts';
import { spanToEvent, type SpanToEventOptions } from './span-to-event.ts';

const NOW = Date.UTC(2026, 10, 20, 10, 5);
const T0 = (NOW - 60_000) * 1000;
const IDENTIFIERS = { policy: 'pseudonymise' as const, hmacKey: 'identifier-key-0123456789', keyFile: null };
const OPTIONS: SpanToEventOptions = {
  tenant: 'acme',
  capture: { policy: 'redacted', hmacKey: null, maxContentBytes: 8192, identifiers: IDENTIFIERS },
  nowMs: NOW,
};
const CHAT = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' };

function span(attributes: Record<string, AttributeValue>, resource: Record<string, AttributeValue> = {}): SpanInput {
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    parentSpanId: null,
    name: 'chat',
    startTimeUnixMicros: T0,
    endTimeUnixMicros: T0 + 1000,
    status: { code: 'unset', message: '' },
    attributes: new Map(Object.entries(attributes)),
    resource: new Map(Object.entries({ 'service.name': 'support-bot', ...resource })),
    scope: { name: 'test', version: null },
    exceptionType: null,
    droppedAttributesCount: 0,
  };
}

function mapped(input: SpanInput, options = OPTIONS): AiEvent {
  const result = spanToEvent(input, options);
  if (!('event' in result)) throw new Error(`expected an event, got ${JSON.stringify(result)}`);
  return result.event;
}

describe('spanToEvent identifier fields', () => {
  it('pseudonymises an email or phone used as a user, conversation or identity, stably', () => {
    const event = mapped(
      span({
        ...CHAT,
        'enduser.id': 'Jane.Roe@example.com',
        'gen_ai.conversation.id': 'call +44 20 7946 0958',
        'aispm.identity': 'jane.roe%40example.com',
      }),
    );
    expect(event.user).toMatch(/^\[EMAIL:[0-9a-f]{16}\]$/);
    expect(event.identity).toBe(event.user);
    expect(event.conversation_id).toMatch(/^call \[PHONE:[0-9a-f]{16}\]$/);
    expect(mapped(span({ ...CHAT, 'enduser.id': 'jane.roe@example.com' })).user).toBe(event.user);
  });

  it('masks secrets in scopes, error types, tool and agent names, and finish reasons', () => {
    const token = `ghp_${'a1B2c3D4e5'.repeat(4)}`;
    const event = mapped(
      span({
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': `fetch ${token}`,
        'gen_ai.agent.name': `bot ${token}`,
        'aispm.scopes': ['repo:read', `token=${token}`],
        'error.type': `AuthError ${token}`,
        'gen_ai.response.finish_reasons': [`stop ${token}`],
      }),
    );
    expect(JSON.stringify(event)).not.toContain(token);
    expect(event.scopes).toEqual(['repo:read', 'token=[SECRET:github_token]']);
    expect(event.tool_name).toBe('fetch [SECRET:github_token]');
    expect(event.error_type).toBe('AuthError [SECRET:github_token]');
  });

  it('removes control, bidi and zero-width characters and bounds every identifier to 256 characters', () => {
    const event = mapped(
      span(
        { ...CHAT, 'gen_ai.agent.name': 'billing\u202egnp.exe\u2066\u200b\u0007bot', 'enduser.id': 'u'.repeat(5000) },
        { 'service.name': 'app\u0000\u001b[2J' },
      ),
    );
    expect(event.agent).toBe('billinggnp.exebot');
    expect(event.app).toBe('app[2J');
    expect(event.user).toHaveLength(256);
  });

  it('keeps an IPv4 destination, the host an endpoint is', () => {
    expect(mapped(span({ ...CHAT, 'server.address': '10.0.0.5' })).destination).toBe('10.0.0.5');
  });

  it('keeps the escaped original of a changed identifier only under full capture', () => {
    const attributes = { ...CHAT, 'enduser.id': 'jane@example.com\u202e' };
    expect(Object.keys(mapped(span(attributes)).attributes)).not.toContain('aispm.original.user');
    const full = mapped(span(attributes), { ...OPTIONS, capture: { ...OPTIONS.capture, policy: 'full' } });
    expect(full.user).toMatch(/^\[EMAIL:[0-9a-f]{16}\]$/);
    expect(full.attributes['aispm.original.user']).toBe('jane@example.com\\u{202e}');
  });

  it('keeps values under the keep policy, cleaned', () => {
    const keep = {
      ...OPTIONS,
      capture: { ...OPTIONS.capture, identifiers: { ...IDENTIFIERS, policy: 'keep' as const } },
    };
    expect(mapped(span({ ...CHAT, 'enduser.id': 'jane@example.com\u200b' }), keep).user).toBe('jane@example.com');
  });

  it('without identifier options, derives the key from the capture key, else masks', () => {
    const bare = { ...OPTIONS, capture: { policy: 'redacted' as const, hmacKey: null, maxContentBytes: 8192 } };
    expect(mapped(span({ ...CHAT, 'enduser.id': 'jane@example.com' }), bare).user).toBe('[EMAIL]');
    const keyed = { ...OPTIONS, capture: { ...bare.capture, hmacKey: 'capture-key-0123456789' } };
    expect(mapped(span({ ...CHAT, 'enduser.id': 'jane@example.com' }), keyed).user).toMatch(/^\[EMAIL:[0-9a-f]{16}\]$/);
  });
});
