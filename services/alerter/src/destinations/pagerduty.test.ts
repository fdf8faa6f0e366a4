import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@aispm/core';
import { PagerDutyReceiver } from '../testing/receivers/index.ts';
import { destinationFinding, destinationNotification } from '../testing/sample.ts';
import { createDestination } from './index.ts';
import { Buckets } from './token-bucket.ts';
import { dedupKeyOf, type PagerDutyEvent } from './pagerduty.ts';
import type { DeliveryResult, Destination } from '../notification.ts';

const KEY = '0123456789abcdef0123456789abcdef';
const env = { PD_KEY: KEY };
const live = () => new AbortController().signal;

describe('pagerduty destination', () => {
  let receiver: PagerDutyReceiver;
  let destination: Destination;
  let clock: number;

  const make = (extra: Record<string, unknown> = {}) =>
    createDestination({ name: 'pd', kind: 'pagerduty', url: receiver.url, routing_key_env: 'PD_KEY', ...extra }, env, {
      now: () => clock,
      buckets: new Buckets(),
    });

  beforeEach(async () => {
    clock = Date.UTC(2026, 11, 1);
    receiver = await PagerDutyReceiver.start({ routingKey: KEY });
    destination = make();
  });
  afterEach(async () => {
    await destination.close();
    await receiver.close();
  });

  it('sends a trigger per open finding, in the documented schema, field by field', async () => {
    const finding = destinationFinding();
    const result = await destination.send(destinationNotification([finding]), live());
    expect(result).toMatchObject({ ok: true, status: 202 });
    expect(receiver.answers).toEqual([{ status: 202 }]);
    const event = receiver.events[0] as unknown as PagerDutyEvent;
    expect(event.routing_key).toBe(KEY);
    expect(event.event_action).toBe('trigger');
    expect(event.dedup_key).toBe(finding.id);
    expect(event.client).toBe('aispm');
    expect(event.links).toEqual([
      {
        href: `http://grafana.local/d/aispm-findings?var-tenant=acme&var-finding=${finding.id}`,
        text: 'Open in Grafana',
      },
    ]);
    expect(event.payload).toMatchObject({
      summary: '[high] Indirect prompt injection through tool output (acme/support/helper)',
      source: 'acme/support/helper',
      severity: 'error',
      timestamp: '2026-11-30T12:01:00.000Z',
      component: 'agent',
      group: 'acme',
      class: 'content',
    });
    expect(event.payload!.custom_details).toMatchObject({
      tenant: 'acme',
      finding_id: finding.id,
      rule: 'prompt_injection.indirect',
      evidence: finding.evidence,
      owasp_llm: ['LLM01:2025'],
      owasp_agentic: ['ASI01'],
      mitre_atlas: ['AML.T0051.001'],
      event_ids: ['e1', 'e2'],
      occurrences: 3,
    });
    expect(receiver.alerts.get(finding.id)).toMatchObject({ status: 'triggered', severity: 'error' });
  });

  it('maps each severity: critical→critical, high→error, medium→warning, low and info→info', async () => {
    const severities = ['critical', 'high', 'medium', 'low', 'info'] as const;
    const findings = severities.map((severity) => destinationFinding({ severity, rule: `r.${severity}` }));
    expect(await destination.send(destinationNotification(findings), live())).toMatchObject({ ok: true });
    expect(receiver.events.map((e) => (e.payload as { severity: string }).severity)).toEqual([
      'critical',
      'error',
      'warning',
      'info',
      'info',
    ]);
  });

  it('resolves a resolved finding and acknowledges a suppressed one, with the same dedup_key', async () => {
    const open = destinationFinding();
    const other = destinationFinding({ rule: 'other' });
    await destination.send(destinationNotification([open, other]), live());
    const result = await destination.send(
      destinationNotification([
        { ...open, status: 'resolved' },
        { ...other, status: 'suppressed' },
      ]),
      live(),
    );
    expect(result).toMatchObject({ ok: true });
    expect(receiver.events.slice(2)).toEqual([
      { routing_key: KEY, event_action: 'resolve', dedup_key: open.id },
      { routing_key: KEY, event_action: 'acknowledge', dedup_key: other.id },
    ]);
    expect(receiver.alerts.get(open.id)?.status).toBe('resolved');
    expect(receiver.alerts.get(other.id)?.status).toBe('acknowledged');
  });

  it('keeps summary within 1024 characters and the event within 512 KB', async () => {
    const finding = destinationFinding({
      title: '🙂'.repeat(2000),
      evidence: Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(1000)}`),
    });
    expect(await destination.send(destinationNotification([finding]), live())).toMatchObject({ ok: true, status: 202 });
    const body = receiver.http.requests[0]!.body;
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(512 * 1024);
    const summary = (receiver.events[0]!.payload as { summary: string }).summary;
    expect(summary.length).toBeLessThanOrEqual(1024);
    expect(summary.endsWith('…')).toBe(true);
    // No lone surrogate: the cut fell between whole characters.
    expect(summary.isWellFormed()).toBe(true);
    const details = (
      receiver.events[0]!.payload as { custom_details: { evidence: string[]; evidence_trimmed: string } }
    ).custom_details;
    expect(details.evidence.length).toBeGreaterThan(0);
    expect(details.evidence.length).toBeLessThan(2000);
    expect(details.evidence_trimmed).toMatch(/of 2000 evidence lines kept/);
  });

  it('uses the finding id as dedup_key, digested when over 255 characters', () => {
    expect(dedupKeyOf(destinationFinding({ id: 'a'.repeat(255) }))).toBe('a'.repeat(255));
    expect(dedupKeyOf(destinationFinding({ id: 'a'.repeat(256) }))).toMatch(/^[0-9a-f]{64}$/);
  });

  it('never retries a 400: an unknown routing key is rejected for good', async () => {
    const wrong = createDestination(
      { name: 'pd', kind: 'pagerduty', url: receiver.url, routing_key_env: 'OTHER' },
      { OTHER: 'ffffffffffffffffffffffffffffffff' },
      { now: () => clock, buckets: new Buckets() },
    );
    const result = await wrong.send(destinationNotification([destinationFinding()]), live());
    expect(result).toMatchObject({ ok: false, retryable: false, status: 400 });
    expect((result as { reason: string }).reason).toMatch(/routing_key is not a known integration key/);
  });

  it('honours a 429 storm with Retry-After, then delivers', async () => {
    receiver.http.failNext(3, { kind: 'status', status: 429, retryAfter: '7' });
    const notification = destinationNotification([destinationFinding()]);
    const results: DeliveryResult[] = [];
    for (let i = 0; i < 4; i++) results.push(await destination.send(notification, live()));
    for (const r of results.slice(0, 3))
      expect(r).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 7000 });
    expect(results[3]).toMatchObject({ ok: true, status: 202 });
    expect(receiver.events).toHaveLength(1);
  });

  it('waits the configured default after a 429 without Retry-After', async () => {
    receiver.http.failNext(1, { kind: 'status', status: 429 });
    expect(await destination.send(destinationNotification([destinationFinding()]), live())).toMatchObject({
      ok: false,
      retryable: true,
      retryAfterMs: 30_000,
    });
  });

  it('retries 5xx, a hang-up, a slow answer past the timeout, and a receiver that is down, until it is up', async () => {
    const notification = destinationNotification([destinationFinding()]);
    receiver.http.failNext(1, { kind: 'status', status: 503 });
    expect(await destination.send(notification, live())).toMatchObject({ ok: false, retryable: true, status: 503 });
    receiver.http.failNext(1, { kind: 'hangup' });
    expect(await destination.send(notification, live())).toMatchObject({ ok: false, retryable: true });

    const impatient = make({ timeout_ms: 150 });
    receiver.http.failNext(1, { kind: 'slow', ms: 600 });
    const slow = await impatient.send(notification, live());
    expect(slow).toMatchObject({ ok: false, retryable: true });
    expect((slow as { reason: string }).reason).toMatch(/did not answer within 150 ms/);

    await receiver.http.down();
    const down = await destination.send(notification, live());
    expect(down).toMatchObject({ ok: false, retryable: true });
    expect((down as { reason: string }).reason).toMatch(/unreachable \(ECONNREFUSED\)/);
    await receiver.http.up();
    expect(await destination.send(notification, live())).toMatchObject({ ok: true, status: 202 });
  });

  it('keeps to its client-side budget per routing key, and resends only what was not delivered', async () => {
    const limited = make({ events_per_minute: 3 });
    const findings = [1, 2, 3, 4, 5].map((n) => destinationFinding({ rule: `r${n}` }));
    const first = await limited.send(destinationNotification(findings), live());
    // 3 tokens, then one refills every 20 s.
    expect(first).toMatchObject({ ok: false, retryable: true, retryAfterMs: 20_000 });
    expect(receiver.events).toHaveLength(3);
    clock += 20_000;
    expect(await limited.send(destinationNotification(findings), live())).toMatchObject({
      ok: false,
      retryAfterMs: 20_000,
    });
    expect(receiver.events).toHaveLength(4);
    clock += 20_000;
    expect(await limited.send(destinationNotification(findings), live())).toMatchObject({ ok: true });
    expect(receiver.events.map((e) => e.dedup_key)).toEqual(findings.map((f) => f.id));
  });

  it('a receiver-side rate limit (429 past 120/min) is retryable', async () => {
    const strict = await PagerDutyReceiver.start({ routingKey: KEY, eventsPerMinute: 2 });
    const d = createDestination({ name: 'pd', kind: 'pagerduty', url: strict.url, routing_key_env: 'PD_KEY' }, env, {
      now: () => clock,
      buckets: new Buckets(),
    });
    const findings = [1, 2, 3].map((n) => destinationFinding({ rule: `r${n}` }));
    expect(await d.send(destinationNotification(findings), live())).toMatchObject({
      ok: false,
      retryable: true,
      status: 429,
    });
    expect(strict.events).toHaveLength(2);
    await strict.close();
  });
});

describe('pagerduty options', () => {
  const base = { name: 'oncall', kind: 'pagerduty' };

  it('takes the routing key from an env var or a file, never inline', () => {
    expect(() => createDestination({ ...base, routing_key: KEY }, {})).toThrow(
      /destinations\.oncall\.routing_key: secrets are not written inline: write routing_key_env/,
    );
    expect(() => createDestination({ ...base }, {})).toThrow(/routing_key: the secret is required/);
    expect(() => createDestination({ ...base, routing_key_env: 'PD_KEY' }, {})).toThrow(
      /destinations\.oncall\.routing_key_env: environment variable PD_KEY is not set/,
    );
    expect(() => createDestination({ ...base, routing_key_file: '/nonexistent/key' }, {})).toThrow(ConfigError);
  });

  it('names the option and what to write', () => {
    expect(() => createDestination({ ...base, routing_key_env: 'PD_KEY', url: 'ftp://x' }, env)).toThrow(
      /destinations\.oncall\.url: write an http/,
    );
    expect(() => createDestination({ ...base, routing_key_env: 'PD_KEY', timout_ms: 5 }, env)).toThrow(
      /destinations\.oncall\.timout_ms: unknown option timout_ms/,
    );
    expect(() => createDestination({ name: 'x', kind: 'pager' }, env)).toThrow(
      /destinations\.x\.kind: unknown kind "pager"; write one of pagerduty/,
    );
  });
});
