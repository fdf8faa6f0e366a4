import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findingId, loadConfig, sampleEvent, silentLogger, type AiEvent } from '@aispm/core';
import { POSTURE_TABLE, loadPolicy, postureOf, postureRows } from '@aispm/processor';
import { parseReadKeys, startSqlEndpoint } from '@aispm/sqlhttp';
import { ChdbStore, EVENTS_TABLE, clickhouseTime, eventRow, migrate } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../usage.ts';
import { openReadSource } from './inventory-source.ts';
import { buildReport, collectReport, defaultFile, reportCommand } from './report.ts';

const NOW = Date.now();
const HOUR = 3_600_000;
const KEY = 'acme-report-key-0123456789';
let n = 0;
const event = (hoursAgo: number, over: Partial<AiEvent> = {}): AiEvent =>
  sampleEvent({
    event_id: `r${++n}`,
    time: (NOW - hoursAgo * HOUR) * 1000,
    kind: 'llm_call',
    app: 'support',
    agent: 'helper',
    tool_name: null,
    destination: 'api.openai.com',
    attributes: {},
    ...over,
  });

function finding(tenant: string, rule: string, hoursAgo: number, status = 'open') {
  const [type] = rule.split('.');
  return {
    tenant,
    id: findingId(tenant, type!, `${tenant}/support/helper`, rule),
    asset: `${tenant}/support/helper`,
    asset_type: 'agent',
    type: type!,
    rule,
    severity: 'high',
    score: 0.9,
    title: `${rule} on helper`,
    evidence: ['[REDACTED] evidence'],
    event_ids: [],
    first_seen: clickhouseTime((NOW - hoursAgo * HOUR) * 1000),
    last_seen: clickhouseTime((NOW - hoursAgo * HOUR) * 1000),
    occurrences: 1,
    status,
    owasp_llm: ['LLM01:2025'],
    owasp_agentic: ['ASI01'],
    mitre_atlas: ['AML.T0051.000'],
    model: 'gpt-4o',
  };
}

describe('aispm report: reading the store', () => {
  let folder: string;
  let dataDir: string;
  let policyFile: string;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'aispm-cli-report-'));
    dataDir = join(folder, 'data');
    policyFile = join(folder, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ approved: { providers: ['openai'], apps: ['support'] } }));
    const store = await ChdbStore.open({ path: join(dataDir, 'chdb'), database: 'aispm' });
    await migrate(store);
    await store.insert(
      EVENTS_TABLE,
      [
        event(1),
        event(2),
        event(50),
        event(1, { provider: 'deepseek', app: 'side' }),
        event(1, { tenant: 'beta' }),
      ].map(eventRow),
    );
    await store.insert('findings', [
      finding('acme', 'prompt_injection.direct', 1),
      finding('acme', 'jailbreak.persona', 2, 'resolved'),
      // Outside a 24-hour period.
      finding('acme', 'sensitive_data.prompt', 50),
      finding('beta', 'prompt_injection.direct', 1),
    ]);
    // Three stored scores of acme, one outside the last day.
    for (const hoursAgo of [30, 5, 3]) {
      const posture = postureOf([{ kind: 'app', name: 'support', approval: 'approved' }], [], {});
      const { rows } = postureRows('acme', { ...posture, score: 100 - hoursAgo }, new Set(), NOW - hoursAgo * HOUR);
      await store.insert(POSTURE_TABLE, rows);
    }
    await store.close();
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('reads the period: stored scores, findings, assets and events inside it only', async () => {
    const config = loadConfig({ AISPM_DATA_DIR: dataDir });
    const { data, html } = await buildReport(config, silentLogger, {
      tenant: 'acme',
      from: NOW - 24 * HOUR,
      to: NOW,
      policy: loadPolicy(policyFile),
      now: () => NOW,
    });
    expect(data.trend.map((p) => Math.round(p.score))).toEqual([95, 97]);
    expect(data.findings.map((f) => [f.rule, f.status])).toEqual([
      ['prompt_injection.direct', 'open'],
      ['jailbreak.persona', 'resolved'],
    ]);
    expect(data.events.total).toBe(3);
    expect(data.events.byPolicy).toEqual({ redacted: 3 });
    expect(data.inventory.find((a) => a.kind === 'provider' && a.name === 'deepseek')?.approval).toBe('unapproved');
    expect(data.policyGiven).toBe(true);
    // The posture counts every open finding, whatever the period.
    expect(data.posture.open_findings).toBe(2);
    expect(html).toContain('<span id="open-findings">1</span>');
  });

  it('reads the same through the SQL endpoint of a running instance as from the store', async () => {
    const store = await ChdbStore.open({ path: join(dataDir, 'chdb'), database: 'aispm' });
    const endpoint = await startSqlEndpoint({ store, keys: parseReadKeys(`acme:${KEY}`), host: '127.0.0.1', port: 0 });
    try {
      const port = new URL(endpoint.url).port;
      const config = loadConfig({ AISPM_DATA_DIR: dataDir, AISPM_SQL_KEYS: `acme:${KEY}`, AISPM_SQL_PORT: port });
      const source = await openReadSource(config, silentLogger);
      const options = {
        from: NOW - 24 * HOUR,
        to: NOW,
        now: NOW,
        via: 'x',
        policy: loadPolicy(policyFile),
        policyGiven: true,
      };
      const through = await collectReport(source.forTenant('acme'), 'acme', options);
      const direct = await collectReport(store, 'acme', options);
      expect(through).toEqual(direct);
      expect(through.findings.length).toBe(2);
    } finally {
      await endpoint.close();
      await store.close();
    }
  });

  it('asks for --tenant when the store holds several, and checks its flags', async () => {
    const config = loadConfig({ AISPM_DATA_DIR: dataDir });
    await expect(buildReport(config, silentLogger)).rejects.toThrow(/several tenants \(acme, beta\).*--tenant/);
    await expect(reportCommand(['--from', 'yesterday'], silentLogger)).rejects.toThrow(UsageError);
    await expect(
      reportCommand(
        ['--from', '2026-12-02T00:00:00Z', '--to', '2026-12-01T00:00:00Z', '--data-dir', dataDir, '--tenant', 'acme'],
        silentLogger,
      ),
    ).rejects.toThrow(/--from must be before --to/);
    expect(defaultFile('a/b c', Date.parse('2026-12-07T10:00:00Z'))).toBe('aispm-report-a_b_c-2026-12-07.html');
  });
});
