import { afterEach, describe, expect, it } from 'vitest';
import { HecReceiver } from '../testing/receivers/index.ts';
import { destinationFinding, destinationNotification } from '../testing/sample.ts';
import { createDestination } from './index.ts';
import { classifyHec, type HecEvent } from './splunk-hec.ts';
import type { Destination } from '../notification.ts';

const TOKEN = '8f14e45f-ceea-467f-a0e6-4a1c2b3d4e5f';
const env = { HEC_TOKEN: TOKEN };
const live = () => new AbortController().signal;

describe('splunk_hec destination', () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  async function setup(
    receiverOptions: Partial<Parameters<typeof HecReceiver.start>[0]> = {},
    options: Record<string, unknown> = {},
  ) {
    const receiver = await HecReceiver.start({ token: TOKEN, ...receiverOptions });
    const destination: Destination = createDestination(
      { name: 'siem', kind: 'splunk_hec', url: receiver.url, token_env: 'HEC_TOKEN', host: 'alerter-1', ...options },
      env,
    );
    open.push(receiver, destination);
    return { receiver, destination };
  }

  it('sends one batch with time, host, source, sourcetype, index, fields and the OCSF finding', async () => {
    const { receiver, destination } = await setup({ indexes: ['security'] }, { index: 'security' });
    const findings = [destinationFinding(), destinationFinding({ rule: 'r2', severity: 'critical' })];
    expect(await destination.send(destinationNotification(findings), live())).toMatchObject({ ok: true, status: 200 });
    expect(receiver.http.requests).toHaveLength(1);
    const request = receiver.http.requests[0]!;
    expect(request.path).toBe('/services/collector/event');
    expect(request.headers.authorization).toBe(`Splunk ${TOKEN}`);
    expect(receiver.events).toHaveLength(2);
    const [first] = receiver.events as unknown as HecEvent[];
    expect(first!.time).toBe(findings[0]!.last_seen / 1e6);
    expect(first!.time % 1).toBeGreaterThan(0);
    expect(first).toMatchObject({ host: 'alerter-1', source: 'aispm', sourcetype: 'aispm:finding', index: 'security' });
    expect(first!.fields).toEqual({
      tenant: 'acme',
      severity: 'high',
      type: 'content',
      rule: 'prompt_injection.indirect',
      status: 'open',
      asset: 'acme/support/helper',
      asset_type: 'agent',
      finding_id: findings[0]!.id,
      route: 'security',
      framework: ['LLM01:2025', 'ASI01', 'AML.T0051.001'],
    });
    expect(first!.event).toMatchObject({ class_uid: 2004, finding_info: { uid: findings[0]!.id } });
  });

  it('sends the finding as plain JSON when format is json', async () => {
    const { receiver, destination } = await setup({}, { format: 'json', sourcetype: 'aispm:json' });
    const finding = destinationFinding();
    await destination.send(destinationNotification([finding]), live());
    expect(receiver.events[0]).toMatchObject({
      sourcetype: 'aispm:json',
      event: { id: finding.id, title: finding.title, route: 'security' },
    });
    expect(receiver.events[0]).not.toHaveProperty('index');
  });

  it('with indexer acknowledgement: sends the channel, polls the ack until it is true, once', async () => {
    const { receiver, destination } = await setup({ ack: true, ackAfterPolls: 2 }, { ack: true, ack_poll_ms: 20 });
    expect(await destination.send(destinationNotification([destinationFinding()]), live())).toMatchObject({ ok: true });
    const [event, ...acks] = receiver.http.requests;
    const channel = event!.headers['x-splunk-request-channel'] as string;
    expect(channel).toMatch(/^[0-9a-f-]{36}$/);
    expect(acks.map((r) => [r.path, r.headers['x-splunk-request-channel'], JSON.parse(r.body) as unknown])).toEqual([
      ['/services/collector/ack', channel, { acks: [0] }],
      ['/services/collector/ack', channel, { acks: [0] }],
      ['/services/collector/ack', channel, { acks: [0] }],
    ]);
    expect(receiver.acked).toEqual([0]);
  });

  it('an ack not reported within ack_timeout_ms is retryable, and the batch is sent again', async () => {
    const { receiver, destination } = await setup(
      { ack: true, ackAfterPolls: 1_000_000 },
      { ack: true, ack_poll_ms: 20, ack_timeout_ms: 120 },
    );
    const notification = destinationNotification([destinationFinding()]);
    const result = await destination.send(notification, live());
    expect(result).toMatchObject({ ok: false, retryable: true });
    expect((result as { reason: string }).reason).toMatch(/ack 0 was not reported indexed within 120 ms/);
    await destination.send(notification, live());
    expect(receiver.events).toHaveLength(2);
  });

  it('maps HEC codes: token and data problems are never retried, a busy server is', async () => {
    const { destination: wrongToken } = await setup({ token: 'another-token' });
    const bad = await wrongToken.send(destinationNotification([destinationFinding()]), live());
    expect(bad).toMatchObject({ ok: false, retryable: false, status: 403 });
    expect((bad as { reason: string }).reason).toMatch(/HEC code 4 Invalid token; check the token/);

    const { destination: wrongIndex } = await setup({ indexes: ['main'] }, { index: 'security' });
    const index = await wrongIndex.send(destinationNotification([destinationFinding()]), live());
    expect(index).toMatchObject({ ok: false, retryable: false, status: 400 });
    expect((index as { reason: string }).reason).toMatch(/HEC code 7 Incorrect index \(event 0\)/);

    const { receiver, destination } = await setup();
    receiver.http.failNext(1, {
      kind: 'status',
      status: 503,
      retryAfter: '2',
      body: '{"text":"Server is busy","code":9}',
    });
    expect(await destination.send(destinationNotification([destinationFinding()]), live())).toMatchObject({
      ok: false,
      retryable: true,
      status: 503,
      retryAfterMs: 2000,
    });
    receiver.http.failNext(1, { kind: 'status', status: 400, body: '{"text":"ACK is disabled","code":14}' });
    expect(await destination.send(destinationNotification([destinationFinding()]), live())).toMatchObject({
      ok: false,
      retryable: false,
    });
    expect(await destination.send(destinationNotification([destinationFinding()]), live())).toMatchObject({ ok: true });
  });

  it('classifies every documented code', () => {
    const h = new Headers();
    const retryable = (code: number, status: number) =>
      (classifyHec('hec', status, h, JSON.stringify({ code, text: 'x' }), 0) as { retryable?: boolean }).retryable;
    expect([1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16].map((c) => retryable(c, 400))).toEqual(
      Array(14).fill(false),
    );
    expect([8, 9, 18, 19, 20, 23, 24].map((c) => retryable(c, 503))).toEqual(Array(7).fill(true));
    expect(classifyHec('hec', 200, h, '{"text":"Success","code":0}', 0)).toMatchObject({ ok: true });
    // No body to read: the HTTP status decides.
    expect(retryable(999, 502)).toBe(true);
    expect(classifyHec('hec', 502, h, '<html>bad gateway</html>', 0)).toMatchObject({ ok: false, retryable: true });
  });

  it('splits a large group into batches and, after a failure, resends only the batch that failed', async () => {
    const { receiver, destination } = await setup({}, { max_batch_bytes: 3000 });
    const findings = [1, 2, 3, 4, 5, 6].map((n) => destinationFinding({ rule: `r${n}` }));
    receiver.http.failNext(1, { kind: 'status', status: 200 });
    receiver.http.failNext(1, { kind: 'status', status: 503, body: '{"text":"Server is busy","code":9}' });
    expect(await destination.send(destinationNotification(findings, { linkOf: undefined }), live())).toMatchObject({
      ok: false,
      retryable: true,
    });
    expect(receiver.http.requests).toHaveLength(2);
    const rulesIn = (body: string) =>
      body.split('\n').map((l) => (JSON.parse(l) as { fields: { rule: string } }).fields.rule);
    const firstBatch = rulesIn(receiver.http.requests[0]!.body);
    expect(firstBatch.length).toBeGreaterThan(0);
    expect(firstBatch.length).toBeLessThan(6);
    expect(await destination.send(destinationNotification(findings, { linkOf: undefined }), live())).toMatchObject({
      ok: true,
    });
    // The first batch (answered 200) is not sent again; every other finding arrives once, in order.
    expect(receiver.events.map((e) => (e.fields as { rule: string }).rule)).toEqual(
      findings.map((f) => f.rule).filter((r) => !firstBatch.includes(r)),
    );
  });

  it('retries when the collector is down, then delivers when it is up', async () => {
    const { receiver, destination } = await setup();
    await receiver.http.down();
    expect(await destination.send(destinationNotification([destinationFinding()]), live())).toMatchObject({
      ok: false,
      retryable: true,
    });
    await receiver.http.up();
    expect(await destination.send(destinationNotification([destinationFinding()]), live())).toMatchObject({ ok: true });
    expect(receiver.events).toHaveLength(1);
  });
});
