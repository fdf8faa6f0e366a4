import type { Finding } from '@aispm/core';
import { CATEGORIES, postureOf, type Category, type InventoryAsset } from '@aispm/processor';
import { describe, expect, it } from 'vitest';
import { CONTROLS, EU_ARTICLES, NIST_FUNCTIONS, frameworkName } from './frameworks.ts';
import type { ReportData } from './model.ts';
import { renderReport } from './render.ts';
import { esc, lineChart } from './svg.ts';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const HOSTILE = `<script>window.pwned=1</script><img src=x onerror="alert(1)">'"&`;

const finding = (over: Partial<Finding> = {}): Finding => ({
  id: 'f1',
  tenant: 'acme',
  asset: 'acme/support/helper',
  asset_type: 'agent',
  type: 'content',
  rule: 'prompt_injection.direct',
  severity: 'high',
  score: 0.9,
  title: 'Prompt injection in a user prompt',
  evidence: ['ignore previous instructions and [REDACTED:email]'],
  event_ids: ['e1'],
  first_seen: (NOW - 3_600_000) * 1000,
  last_seen: (NOW - 60_000) * 1000,
  occurrences: 3,
  status: 'open',
  owasp_llm: ['LLM01:2025'],
  owasp_agentic: ['ASI01'],
  mitre_atlas: ['AML.T0051.000'],
  model: 'gpt-4o',
  ...over,
});

const asset = (over: Partial<InventoryAsset> = {}): InventoryAsset => ({
  kind: 'provider',
  name: 'openai',
  first_seen: (NOW - 7_200_000) * 1000,
  last_seen: (NOW - 60_000) * 1000,
  events: 120,
  apps: ['support'],
  agents: ['helper'],
  owner: 'team-s',
  approval: 'approved',
  open_findings: 0,
  ...over,
});

function data(findings: Finding[], inventory: InventoryAsset[]): ReportData {
  const categories = Object.fromEntries(CATEGORIES.map((c) => [c, 90])) as Record<Category, number>;
  return {
    tenant: 'acme',
    from: NOW - 86_400_000,
    to: NOW,
    generatedAt: NOW,
    via: 'chdb at /tmp/x',
    policyGiven: true,
    posture: postureOf(inventory, findings),
    trend: [
      { time: NOW - 7_200_000, score: 80, categories },
      { time: NOW - 3_600_000, score: 70, categories },
    ],
    findings,
    inventory,
    events: {
      total: 1000,
      traces: 400,
      toolCalls: 200,
      errors: 3,
      withDetections: 12,
      byPolicy: { redacted: 900, full: 100 },
      scored: 950,
      anomalous: 4,
      driftReports: 2,
    },
  };
}

describe('aispm report: the HTML renderer', () => {
  it('escapes every value from the store: no markup from a title, evidence, asset or tenant survives', () => {
    const html = renderReport({
      ...data(
        [finding({ title: HOSTILE, evidence: [HOSTILE], asset: `acme/support/${HOSTILE}`, rule: HOSTILE })],
        [asset({ name: HOSTILE, owner: HOSTILE, approval: 'unapproved' })],
      ),
      tenant: HOSTILE,
    });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toMatch(/onerror="/);
    expect(html).toContain(
      '&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&quot;&amp;',
    );
    expect(esc(`a<b>"c"&'d'`)).toBe('a&lt;b&gt;&quot;c&quot;&amp;&#39;d&#39;');
  });

  it('is self-contained: no script, no external resource, a CSP that forbids loading any', () => {
    const html = renderReport(data([finding()], [asset()]));
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    expect(html).not.toMatch(/<script|<link|<iframe|src="http|href="http|@import|url\(/i);
    expect(html).toMatch(/@media print/);
  });

  it('fills every section: trend path, framework counts with names, inventory, the control mapping', () => {
    const html = renderReport(
      data(
        [finding(), finding({ id: 'f2', severity: 'critical' })],
        [asset(), asset({ kind: 'model', name: 'deepseek-r1', approval: 'unapproved', owner: null })],
      ),
    );
    // Two stored scores and the one computed now.
    expect(html).toMatch(
      /<path class="series" data-series="Posture score \(tenant\)" data-points="3" d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+ L/,
    );
    expect(html).toContain(
      '<td><code>LLM01:2025</code></td><td>Prompt Injection</td><td class="num">2</td><td class="num">2</td><td class="num">1</td><td class="num">1</td>',
    );
    expect(html).toContain('Agent Goal Hijack');
    expect(html).toContain('LLM Prompt Injection: Direct');
    expect(html).toContain('<span class="approval unapproved">unapproved</span>');
    for (const fn of NIST_FUNCTIONS) expect(html).toContain(`<strong>${fn}</strong>`);
    for (const art of EU_ARTICLES) expect(html).toContain(`<strong>${art}</strong>`);
    expect(html.match(/<tr><td><strong>C\d+<\/strong>/g)).toHaveLength(CONTROLS.length);
    expect(html).toContain('1,000 events in 400 traces recorded in the period');
  });

  it('renders an empty tenant without failing', () => {
    const html = renderReport({ ...data([], []), trend: [] });
    expect(html).toContain('No open findings.');
    expect(html).toContain('No assets.');
    expect(html).toContain('no stored score in the period');
  });

  it('names framework ids and draws a chart of one point', () => {
    expect(frameworkName('owasp_llm', 'LLM10:2025')).toBe('Unbounded Consumption');
    expect(frameworkName('owasp_agentic', 'ASI02')).toBe('Tool Misuse and Exploitation');
    expect(frameworkName('mitre_atlas', 'AML.T9999')).toBe('');
    const svg = lineChart([{ label: 'x', color: '#000', points: [{ x: NOW, y: 50 }] }], { title: 't' });
    expect(svg).toMatch(/d="M[\d.]+,[\d.]+"/);
  });
});
