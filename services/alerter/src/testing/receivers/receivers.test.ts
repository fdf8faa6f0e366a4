import { describe, expect, it } from 'vitest';
import { pagerDutyEventErrors } from './pagerduty-receiver.ts';
import { splitHecBody } from './hec-receiver.ts';

/** The receivers are the tests' judges of format: they must refuse what the APIs refuse. */
const KEY = '0123456789abcdef0123456789abcdef';
const trigger = (over: Record<string, unknown> = {}, payload: Record<string, unknown> = {}) =>
  JSON.stringify({
    routing_key: KEY,
    event_action: 'trigger',
    dedup_key: 'k',
    payload: { summary: 's', source: 'h', severity: 'info', ...payload },
    ...over,
  });

describe('PagerDuty receiver schema', () => {
  it('accepts the documented minimal trigger, acknowledge and resolve', () => {
    expect(pagerDutyEventErrors(trigger(), KEY)).toEqual([]);
    expect(
      pagerDutyEventErrors(JSON.stringify({ routing_key: KEY, event_action: 'resolve', dedup_key: 'k' }), KEY),
    ).toEqual([]);
    expect(
      pagerDutyEventErrors(JSON.stringify({ routing_key: KEY, event_action: 'acknowledge', dedup_key: 'k' }), KEY),
    ).toEqual([]);
  });

  it('refuses what the documentation rules out', () => {
    expect(pagerDutyEventErrors(trigger({}, { summary: 'x'.repeat(1025) }), KEY)).toEqual([
      'payload.summary must be 1 to 1024 characters',
    ]);
    expect(pagerDutyEventErrors(trigger({}, { severity: 'high' }), KEY)).toEqual([
      'payload.severity must be critical, error, warning or info',
    ]);
    expect(pagerDutyEventErrors(trigger({ dedup_key: 'd'.repeat(256) }), KEY)).toEqual([
      'dedup_key must be a string of at most 255 characters',
    ]);
    expect(pagerDutyEventErrors(JSON.stringify({ routing_key: KEY, event_action: 'resolve' }), KEY)).toEqual([
      'dedup_key is required to resolve',
    ]);
    expect(pagerDutyEventErrors(trigger({ routing_key: 'short' }), KEY)).toEqual([
      'routing_key must be the 32-character integration key',
    ]);
    expect(pagerDutyEventErrors(trigger({}, { timestamp: 'yesterday' }), KEY)).toEqual([
      'payload.timestamp must be an ISO 8601 timestamp',
    ]);
    expect(pagerDutyEventErrors(trigger({}, { custom_details: 'text' }), KEY)).toEqual([
      'payload.custom_details must be an object',
    ]);
    expect(pagerDutyEventErrors(trigger({ links: [{ text: 'no href' }] }), KEY)).toEqual([
      'each link needs href (and text, if any, a string)',
    ]);
    expect(pagerDutyEventErrors(trigger({ event_action: 'page' }), KEY)).toContain(
      'event_action must be trigger, acknowledge or resolve',
    );
    expect(pagerDutyEventErrors(trigger({ severity: 'info' }), KEY)).toEqual(['unknown field severity']);
    expect(pagerDutyEventErrors(trigger({}, { custom_details: { big: 'x'.repeat(512 * 1024) } }), KEY)).toEqual([
      'event is larger than 512 KB',
    ]);
  });
});

describe('HEC body split', () => {
  it('reads events back to back or newline-separated, with braces inside strings', () => {
    expect(splitHecBody('{"event":"a{"}{"event":{"b":"}"}}\n{"event":"c\\"}"}')).toEqual([
      { event: 'a{' },
      { event: { b: '}' } },
      { event: 'c"}' },
    ]);
  });

  it('refuses what is not a sequence of JSON objects', () => {
    expect(splitHecBody('[{"event":"a"}]')).toBeNull();
    expect(splitHecBody('{"event":"a"')).toBeNull();
    expect(splitHecBody('{"event":"a"} x')).toBeNull();
  });
});
