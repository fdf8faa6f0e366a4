import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findingId, type Finding } from '@aispm/core';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAlerterApi } from './api.ts';
import { SilenceStore } from './silences.ts';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';

function finding(tenant: string, severity: Finding['severity'] = 'high'): Finding {
  return {
    id: findingId(tenant, 'shadow_ai', 'app-1', 'r'),
    tenant,
    asset: 'app-1',
    asset_type: 'app',
    type: 'shadow_ai',
    rule: 'r',
    severity,
    score: 0.9,
    title: 't',
    evidence: [],
    event_ids: [],
    first_seen: 0,
    last_seen: 0,
    occurrences: 1,
    status: 'open',
    owasp_llm: ['LLM03'],
    owasp_agentic: [],
    mitre_atlas: [],
    model: 'm',
  };
}

describe('alerter API: silences per tenant, health, metrics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aispm-alerter-api-'));
  const file = join(dir, 'silences.json');
  const silences = new SilenceStore({ maxPerTenant: 2, file });
  let changes = 0;
  const app = buildAlerterApi({
    keys: `acme:${ACME},globex:${GLOBEX}`,
    silences,
    registry: new Registry(),
    healthy: () => true,
    onChange: () => (changes += 1),
  });
  let url = '';
  const call = async (method: string, path: string, key?: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const hour = () => new Date(Date.now() + 3_600_000).toISOString();

  beforeAll(async () => {
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a missing or unknown key with what to do', async () => {
    expect((await call('GET', '/api/v1/silences')).status).toBe(401);
    const wrong = await call('GET', '/api/v1/silences', 'not-a-key-0123456789');
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toMatch(/AISPM_ALERT_API_KEYS/);
  });

  it("keeps a tenant's silence to that tenant: it mutes only its findings and only it sees or expires it", async () => {
    const made = await call('POST', '/api/v1/silences', ACME, {
      matchers: [
        { name: 'type', value: 'shadow_ai' },
        { name: 'severity', value: 'high|medium', isRegex: true },
      ],
      endsAt: hour(),
      createdBy: 'oncall',
      comment: 'known rollout',
    });
    expect(made.status).toBe(200);
    const id = made.body.silenceID as string;
    expect(changes).toBe(1);
    const now = Date.now();
    expect(silences.mutes(finding('acme'), now)).toBe(true);
    expect(silences.mutes(finding('acme', 'critical'), now)).toBe(false);
    expect(silences.mutes(finding('globex'), now)).toBe(false);
    expect((await call('GET', '/api/v1/silences', GLOBEX)).body.silences).toEqual([]);
    const listed = (await call('GET', '/api/v1/silences', ACME)).body.silences as { id: string }[];
    expect(listed.map((s) => s.id)).toEqual([id]);
    expect((await call('DELETE', `/api/v1/silences/${id}`, GLOBEX)).status).toBe(404);
    // Kept across a restart.
    expect(new SilenceStore({ maxPerTenant: 2, file }).mutes(finding('acme'), now)).toBe(true);
    expect((await call('DELETE', `/api/v1/silences/${id}`, ACME)).status).toBe(200);
    expect(silences.mutes(finding('acme'), Date.now())).toBe(false);
    expect(new SilenceStore({ maxPerTenant: 2, file }).mutes(finding('acme'), now)).toBe(false);
  });

  it('expires a silence at its end', () => {
    const store = new SilenceStore({ maxPerTenant: 5 });
    const now = Date.now();
    store.add(
      {
        id: 'x',
        tenant: 'acme',
        matchers: [{ name: 'asset', value: 'app-1', isRegex: false, isEqual: true }],
        startsAt: now,
        endsAt: now + 1000,
        createdBy: 'a',
        comment: '',
      },
      now,
    );
    expect(store.mutes(finding('acme'), now + 999)).toBe(true);
    expect(store.mutes(finding('acme'), now + 1000)).toBe(false);
  });

  it('refuses a bad silence and a tenant over its bound', async () => {
    const bad = await call('POST', '/api/v1/silences', GLOBEX, {
      matchers: [{ name: 'colour', value: 'red' }],
      endsAt: hour(),
      createdBy: 'a',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/colour/);
    const past = await call('POST', '/api/v1/silences', GLOBEX, {
      matchers: [{ name: 'asset', value: 'a' }],
      endsAt: new Date(Date.now() - 1000).toISOString(),
      createdBy: 'a',
    });
    expect(past.status).toBe(400);
    const good = { matchers: [{ name: 'asset', value: 'a' }], endsAt: hour(), createdBy: 'a' };
    expect((await call('POST', '/api/v1/silences', GLOBEX, good)).status).toBe(200);
    expect((await call('POST', '/api/v1/silences', GLOBEX, good)).status).toBe(200);
    expect((await call('POST', '/api/v1/silences', GLOBEX, good)).status).toBe(409);
  });

  it('serves health and Prometheus metrics without a key', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  });
});
