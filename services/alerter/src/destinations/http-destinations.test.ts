import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toOcsfDetectionFinding } from '@aispm/core';
import { JsonReceiver } from '../testing/receivers/index.ts';
import { destinationFinding, destinationNotification } from '../testing/sample.ts';
import { createDestination } from './index.ts';
import { slackEscape, slackMessage } from './slack.ts';
import { verifyWebhookSignature, webhookSignature } from './webhook.ts';

const live = () => new AbortController().signal;
const NOW = Date.UTC(2026, 11, 1, 10, 0, 0);

describe('http destinations', () => {
  const receivers: JsonReceiver[] = [];
  afterEach(async () => {
    for (const r of receivers.splice(0)) await r.close();
  });
  const start = async (options: Parameters<typeof JsonReceiver.start>[0]) => {
    const r = await JsonReceiver.start(options);
    receivers.push(r);
    return r;
  };

  describe('webhook', () => {
    it('posts the notification, signed over "<timestamp>.<body>" with HMAC-SHA256', async () => {
      const receiver = await start({ webhookSecret: 's3cret' });
      const d = createDestination(
        { name: 'hook', kind: 'webhook', url: receiver.url, secret_env: 'HOOK_KEY' },
        { HOOK_KEY: 's3cret' },
      );
      const finding = destinationFinding();
      expect(await d.send(destinationNotification([finding]), live())).toMatchObject({ ok: true, status: 200 });
      const req = receiver.http.requests[0]!;
      const ts = req.headers['x-aispm-timestamp'] as string;
      expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
      expect(req.headers['x-aispm-signature']).toBe(webhookSignature('s3cret', ts, req.body));
      expect(receiver.bodies[0]).toEqual({
        route: 'security',
        groupKey: 'acme/security/agent',
        tenant: 'acme',
        status: 'firing',
        labels: { asset_type: 'agent' },
        findings: [finding],
        links: { [finding.id]: `http://grafana.local/d/aispm-findings?var-tenant=acme&var-finding=${finding.id}` },
      });
    });

    it('a receiver with another secret refuses it (401), and that is not retried', async () => {
      const receiver = await start({ webhookSecret: 'other' });
      const dir = mkdtempSync(join(tmpdir(), 'aispm-hook-'));
      writeFileSync(join(dir, 'key'), 's3cret\n');
      const d = createDestination(
        { name: 'hook', kind: 'webhook', url: receiver.url, secret_file: join(dir, 'key') },
        {},
      );
      expect(await d.send(destinationNotification([destinationFinding()]), live())).toMatchObject({
        ok: false,
        retryable: false,
        status: 401,
      });
    });

    it('verifyWebhookSignature: checks signature, timestamp form and age, in constant time', () => {
      const body = '{"a":1}';
      const ts = String(NOW / 1000);
      const signature = webhookSignature('k', ts, body);
      expect(verifyWebhookSignature({ secret: 'k', body, timestamp: ts, signature, nowMs: NOW })).toEqual({ ok: true });
      expect(verifyWebhookSignature({ secret: 'k', body: '{"a":2}', timestamp: ts, signature, nowMs: NOW })).toEqual({
        ok: false,
        reason: 'signature does not match',
      });
      expect(verifyWebhookSignature({ secret: 'x', body, timestamp: ts, signature, nowMs: NOW }).ok).toBe(false);
      expect(verifyWebhookSignature({ secret: 'k', body, timestamp: ts, signature, nowMs: NOW + 301_000 })).toEqual({
        ok: false,
        reason: 'timestamp is 301 s from now',
      });
      expect(verifyWebhookSignature({ secret: 'k', body, timestamp: undefined, signature, nowMs: NOW }).ok).toBe(false);
      expect(verifyWebhookSignature({ secret: 'k', body, timestamp: ts, signature: 'md5=00', nowMs: NOW }).ok).toBe(
        false,
      );
    });

    it('requires its secret from env or file', () => {
      expect(() => createDestination({ name: 'hook', kind: 'webhook', url: 'http://x' }, {})).toThrow(
        /destinations\.hook\.secret: the secret is required: write secret_env/,
      );
      expect(() => createDestination({ name: 'hook', kind: 'webhook', url: 'http://x', secret: 'inline' }, {})).toThrow(
        /secrets are not written inline/,
      );
    });
  });

  describe('ocsf_http', () => {
    it('posts a JSON array of OCSF Detection Findings with the bearer token', async () => {
      const receiver = await start({ bearer: 'lake-token' });
      const d = createDestination(
        { name: 'lake', kind: 'ocsf_http', url: receiver.url, token_env: 'LAKE' },
        { LAKE: 'lake-token' },
      );
      const findings = [destinationFinding(), destinationFinding({ rule: 'r2', status: 'resolved' })];
      expect(await d.send(destinationNotification(findings), live())).toMatchObject({ ok: true });
      expect(receiver.bodies[0]).toEqual(
        findings.map((f) => JSON.parse(JSON.stringify(toOcsfDetectionFinding(f))) as unknown),
      );
      expect(receiver.bodies[0]).toMatchObject([
        { class_uid: 2004, activity_id: 2, status_id: 1 }, // seen 3 times: an Update
        { class_uid: 2004, activity_id: 3, status_id: 4 },
      ]);
    });

    it('a missing token is refused for good; a 5xx is retried', async () => {
      const receiver = await start({ bearer: 'lake-token' });
      const anonymous = createDestination({ name: 'lake', kind: 'ocsf_http', url: receiver.url }, {});
      expect(await anonymous.send(destinationNotification([destinationFinding()]), live())).toMatchObject({
        ok: false,
        retryable: false,
        status: 401,
      });
      receiver.http.failNext(1, { kind: 'status', status: 502 });
      const d = createDestination(
        { name: 'lake', kind: 'ocsf_http', url: receiver.url, token_env: 'LAKE' },
        { LAKE: 'lake-token' },
      );
      expect(await d.send(destinationNotification([destinationFinding()]), live())).toMatchObject({
        ok: false,
        retryable: true,
        status: 502,
      });
    });
  });

  describe('slack', () => {
    it('escapes &, < and > in text', () => {
      expect(slackEscape('a & <b> c')).toBe('a &amp; &lt;b&gt; c');
    });

    it('posts a summary of the group with blocks, honouring 429 Retry-After', async () => {
      const receiver = await start({ slack: true });
      const d = createDestination({ name: 'chat', kind: 'slack', url_env: 'SLACK_URL' }, { SLACK_URL: receiver.url });
      const findings = [destinationFinding({ title: '<script> & co' }), destinationFinding({ rule: 'r2' })];
      receiver.http.failNext(1, { kind: 'status', status: 429, retryAfter: '3' });
      expect(await d.send(destinationNotification(findings), live())).toMatchObject({
        ok: false,
        retryable: true,
        retryAfterMs: 3000,
      });
      expect(await d.send(destinationNotification(findings), live())).toMatchObject({ ok: true, status: 200 });
      const body = receiver.bodies[0] as { text: string; blocks: { text?: { text: string } }[] };
      expect(body.text).toBe(':rotating_light: Firing: 2 findings · security · tenant acme · asset_type=agent');
      expect(body.blocks).toHaveLength(3);
      expect(body.blocks[1]!.text!.text).toContain('*[high]* &lt;script&gt; &amp; co — acme/support/helper (open)');
      expect(body.blocks[1]!.text!.text).toMatch(
        /<http:\/\/grafana\.local\/d\/aispm-findings\?var-tenant=acme&var-finding=[0-9a-f]+\|open in Grafana>/,
      );
    });

    it('lists at most max_findings and counts the rest', () => {
      const findings = Array.from({ length: 25 }, (_, i) => destinationFinding({ rule: `r${i}` }));
      const message = slackMessage(destinationNotification(findings), 10);
      expect(message.blocks).toHaveLength(12);
      expect(message.blocks[11]).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: 'and 15 more' }] });
    });
  });
});
