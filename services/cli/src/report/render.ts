import { SEVERITIES, type Finding, type Severity } from '@aispm/core';
import { CATEGORIES, categoryOf, findingAsset, type Category } from '@aispm/processor';
import {
  CONTROLS,
  EU_ARTICLES,
  EU_DESCRIPTIONS,
  NIST_DESCRIPTIONS,
  NIST_FUNCTIONS,
  frameworkName,
  nistFunctionOf,
} from './frameworks.ts';
import type { ReportData } from './model.ts';
import { barChart, esc, isoMinute, isoSecond, lineChart, type Series } from './svg.ts';

/**
 * The posture and compliance report as one self-contained HTML page: inline CSS,
 * inline SVG charts, no script, no external resource (a Content-Security-Policy
 * forbids any), laid out for print (A4, tables that break between rows). Every
 * value read from the store goes through esc().
 */
export interface RenderOptions {
  /** Findings listed as top risks (default 15). */
  topRisks?: number;
  /** Evidence items shown per finding (default 3). */
  evidence?: number;
}

export const CATEGORY_LABEL: Readonly<Record<Category, string>> = {
  injection_exposure: 'Injection exposure',
  data_leakage: 'Data leakage',
  agency: 'Agency',
  shadow_ai: 'Shadow AI',
  model_integrity: 'Model integrity',
  anomalies: 'Anomalies',
};

const CATEGORY_COLOR: Readonly<Record<Category, string>> = {
  injection_exposure: '#b5452b',
  data_leakage: '#7d3c98',
  agency: '#c27c0e',
  shadow_ai: '#2e7d6b',
  model_integrity: '#3b6fb6',
  anomalies: '#6b6b6b',
};

const SEVERITY_COLOR: Readonly<Record<Severity, string>> = {
  critical: '#8e1b1b',
  high: '#c0392b',
  medium: '#d68910',
  low: '#2874a6',
  info: '#7f8c8d',
};

const fmt = (v: number): string => (Math.round(v * 10) / 10).toFixed(1);
const int = (v: number): string => v.toLocaleString('en');
const scoreClass = (v: number): string => (v >= 80 ? 'good' : v >= 50 ? 'fair' : 'poor');
const micros = (us: number): string => isoMinute(Math.floor(us / 1000));

export function renderReport(data: ReportData, options: RenderOptions = {}): string {
  const title = `AI security posture report — ${data.tenant}`;
  const body = [
    header(data),
    summary(data),
    trendSection(data),
    categorySection(data),
    risksSection(data, options.topRisks ?? 15, options.evidence ?? 3),
    frameworksSection(data),
    inventorySection(data),
    complianceSection(data),
    methodSection(data),
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="aispm report">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function header(d: ReportData): string {
  return `<header class="report-header">
<h1>AI security posture report</h1>
<p class="meta">Tenant <strong id="tenant">${esc(d.tenant)}</strong> · period ${esc(isoMinute(d.from))} – ${esc(
    isoMinute(d.to),
  )} UTC · generated ${esc(isoSecond(d.generatedAt))} UTC from ${esc(d.via)}</p>
</header>`;
}

function summary(d: ReportData): string {
  const first = d.trend[0];
  const change = first === undefined ? null : d.posture.score - first.score;
  const open = d.findings.filter((f) => f.status === 'open');
  const bySeverity = countBy(open, (f) => f.severity);
  const resolved = d.findings.length - open.length;
  const unapproved = d.inventory.filter((a) => a.approval === 'unapproved').length;
  const card = (label: string, value: string, note: string, cls = ''): string =>
    `<div class="card ${cls}"><div class="card-label">${esc(label)}</div><div class="card-value">${value}</div><div class="card-note">${note}</div></div>`;
  return `<section id="summary" class="keep">
<h2>Summary</h2>
<div class="cards">
${card('Posture score now', `<span id="score-now">${esc(fmt(d.posture.score))}</span><small>/100</small>`, change === null ? 'no stored score in the period' : `${change >= 0 ? '+' : ''}${esc(fmt(change))} since ${esc(isoMinute(first!.time))}`, scoreClass(d.posture.score))}
${card(
  'Open findings',
  `<span id="open-findings">${esc(int(open.length))}</span>`,
  `${esc(int(bySeverity.get('critical') ?? 0))} critical · ${esc(int(bySeverity.get('high') ?? 0))} high · ${esc(int(bySeverity.get('medium') ?? 0))} medium; ${esc(int(resolved))} more resolved in the period`,
)}
${card('AI assets', esc(int(d.inventory.length)), d.policyGiven ? `${esc(int(unapproved))} unapproved` : 'no inventory policy: approval not judged')}
${card('Events recorded', esc(int(d.events.total)), `${esc(int(d.events.traces))} traces · ${esc(int(d.events.withDetections))} with a content verdict`)}
</div>
</section>`;
}

function trendSection(d: ReportData): string {
  const now = { x: d.generatedAt, y: d.posture.score };
  const total: Series = {
    label: 'Posture score (tenant)',
    color: '#1f3a5f',
    points: [...d.trend.map((p) => ({ x: p.time, y: p.score })), now],
  };
  const categories: Series[] = CATEGORIES.map((c) => ({
    label: CATEGORY_LABEL[c],
    color: CATEGORY_COLOR[c],
    dashed: true,
    points: [
      ...d.trend.map((p) => ({ x: p.time, y: p.categories[c] })),
      { x: d.generatedAt, y: d.posture.categories[c] },
    ],
  }));
  const stored = d.trend.length;
  const all = [...d.trend, { time: d.generatedAt, score: d.posture.score }];
  const low = all.reduce((a, b) => (b.score < a.score ? b : a));
  const high = all.reduce((a, b) => (b.score > a.score ? b : a));
  return `<section id="trend" class="keep">
<h2>Posture trend</h2>
<p>${esc(int(stored))} stored score${stored === 1 ? '' : 's'} in the period (the posture job writes one every AISPM_POSTURE_INTERVAL_S, a minute by default, while aispm runs), and the score computed now. Lowest ${esc(
    fmt(low.score),
  )} (${esc(isoMinute(low.time))} UTC), highest ${esc(fmt(high.score))} (${esc(isoMinute(high.time))} UTC).</p>
${lineChart([total, ...categories], { title: 'Posture score over the period', ...trendRange(d) })}
</section>`;
}

/**
 * The x range of the trend: from the first stored score (not before the period) to
 * now, so a few minutes of scores are not squeezed into a month's width; an hour
 * around now when nothing is stored.
 */
function trendRange(d: ReportData): { xFrom: number; xTo: number } {
  const first = d.trend[0]?.time;
  const to = Math.max(d.generatedAt, d.trend[d.trend.length - 1]?.time ?? d.generatedAt);
  if (first === undefined) return { xFrom: to - 3_600_000, xTo: to };
  const from = Math.max(d.from, first);
  const margin = Math.max(1000, (to - from) * 0.02);
  return { xFrom: from - margin, xTo: to + margin };
}

function categorySection(d: ReportData): string {
  const bars = CATEGORIES.map((c) => ({
    label: CATEGORY_LABEL[c],
    value: d.posture.categories[c],
    color: CATEGORY_COLOR[c],
    text: fmt(d.posture.categories[c]),
  }));
  const actions =
    d.posture.actions.length === 0
      ? '<p>Nothing to fix.</p>'
      : `<ol class="actions">${d.posture.actions
          .map((a) => `<li><strong>+${esc(fmt(a.points))}</strong> ${esc(a.title)}</li>`)
          .join('')}</ol>`;
  const worst = d.posture.assets
    .filter((a) => a.score < 100)
    .sort((a, b) => a.score - b.score)
    .slice(0, 10);
  return `<section id="categories">
<h2>Breakdown by category</h2>
<p>Each category's own score (100: nothing to fix); the total is their product.</p>
${barChart(bars, { title: 'Category scores', max: 100 })}
<table id="category-table">
<thead><tr><th>Category</th><th class="num">Score</th><th class="num">Open findings</th></tr></thead>
<tbody>${CATEGORIES.map(
    (c) =>
      `<tr><td>${esc(CATEGORY_LABEL[c])}</td><td class="num ${scoreClass(d.posture.categories[c])}">${esc(
        fmt(d.posture.categories[c]),
      )}</td><td class="num">${esc(int(d.findings.filter((f) => f.status === 'open' && categoryOf(f) === c).length))}</td></tr>`,
  ).join('')}</tbody>
</table>
<h3>What would raise the score most</h3>
${actions}
<h3>Lowest-scoring assets</h3>
${
  worst.length === 0
    ? '<p>Every asset is at 100.</p>'
    : `<table id="asset-scores"><thead><tr><th>Kind</th><th>Asset</th><th class="num">Score</th><th class="num">Open findings</th><th>Weakest category</th></tr></thead><tbody>${worst
        .map((a) => {
          const weakest = CATEGORIES.reduce((x, y) => (a.categories[y] < a.categories[x] ? y : x));
          return `<tr><td>${esc(a.kind)}</td><td>${esc(a.name)}</td><td class="num ${scoreClass(a.score)}">${esc(
            fmt(a.score),
          )}</td><td class="num">${esc(int(a.open_findings))}</td><td>${esc(CATEGORY_LABEL[weakest])} (${esc(
            fmt(a.categories[weakest]),
          )})</td></tr>`;
        })
        .join('')}</tbody></table>`
}
</section>`;
}

function risksSection(d: ReportData, top: number, evidenceItems: number): string {
  const shown = d.findings.slice(0, top);
  const rows = shown
    .map((f) => {
      const { kind, name } = findingAsset(f);
      const evidence = f.evidence.slice(0, evidenceItems);
      const more = f.evidence.length - evidence.length;
      const refs = [...f.owasp_llm, ...f.owasp_agentic, ...f.mitre_atlas];
      return `<tr class="finding">
<td><span class="sev sev-${esc(f.severity)}">${esc(f.severity)}</span><div class="small">score ${esc(f.score.toFixed(2))}</div><div class="status-${esc(f.status)}">${esc(f.status)}</div></td>
<td><div class="finding-title">${esc(f.title)}</div><div class="small">${esc(f.rule || f.type)} · ${esc(kind)} ${esc(name)}</div>${
        refs.length === 0
          ? ''
          : `<div class="refs">${refs.map((r) => `<span class="ref">${esc(r)}</span>`).join(' ')}</div>`
      }</td>
<td class="evidence">${
        evidence.length === 0
          ? '<span class="small">—</span>'
          : `<ul>${evidence.map((e) => `<li><code>${esc(e.length > 300 ? `${e.slice(0, 299)}…` : e)}</code></li>`).join('')}</ul>${
              more > 0 ? `<div class="small">and ${esc(int(more))} more</div>` : ''
            }`
      }</td>
<td class="small">${esc(micros(f.first_seen))}<br>${esc(micros(f.last_seen))}<br>${esc(int(f.occurrences))}×</td>
</tr>`;
    })
    .join('\n');
  const bySeverity = SEVERITIES.slice()
    .reverse()
    .map((s) => ({
      label: s,
      value: d.findings.filter((f) => f.severity === s).length,
      color: SEVERITY_COLOR[s],
    }));
  return `<section id="risks">
<h2>Top risks</h2>
<p>${esc(int(d.findings.length))} finding${d.findings.length === 1 ? '' : 's'} active in the period, ${esc(
    int(d.findings.filter((f) => f.status === 'open').length),
  )} still open. Below, the ${esc(int(shown.length))} strongest (open ones first, then by severity and score) with their evidence, redacted before it was stored.</p>
${barChart(bySeverity, { title: 'Findings of the period by severity' })}
${
  shown.length === 0
    ? '<p>No open findings.</p>'
    : `<table id="findings-table"><thead><tr><th>Severity</th><th>Finding</th><th>Evidence (redacted)</th><th>First · last seen · count</th></tr></thead><tbody>
${rows}
</tbody></table>`
}
</section>`;
}

function frameworksSection(d: ReportData): string {
  const block = (
    id: string,
    heading: string,
    framework: 'owasp_llm' | 'owasp_agentic' | 'mitre_atlas',
    pick: (f: Finding) => readonly string[],
  ): string => {
    const counts = new Map<string, { n: number; open: number; critical: number; high: number }>();
    for (const f of d.findings) {
      for (const ref of new Set(pick(f))) {
        const c = counts.get(ref) ?? { n: 0, open: 0, critical: 0, high: 0 };
        c.n++;
        if (f.status === 'open') c.open++;
        if (f.severity === 'critical') c.critical++;
        if (f.severity === 'high') c.high++;
        counts.set(ref, c);
      }
    }
    const rows = [...counts].sort((a, b) => b[1].n - a[1].n || a[0].localeCompare(b[0]));
    const table =
      rows.length === 0
        ? `<p>No finding of the period names a ${esc(heading)} id.</p>`
        : `<table id="${id}"><thead><tr><th>Id</th><th>Name</th><th class="num">Findings</th><th class="num">Open</th><th class="num">Critical</th><th class="num">High</th></tr></thead><tbody>${rows
            .map(
              ([ref, c]) =>
                `<tr><td><code>${esc(ref)}</code></td><td>${esc(frameworkName(framework, ref) || '—')}</td><td class="num">${esc(
                  int(c.n),
                )}</td><td class="num">${esc(int(c.open))}</td><td class="num">${esc(int(c.critical))}</td><td class="num">${esc(int(c.high))}</td></tr>`,
            )
            .join('')}</tbody></table>`;
    const chart =
      rows.length === 0
        ? ''
        : barChart(
            rows.slice(0, 12).map(([ref, c]) => {
              const name = frameworkName(framework, ref);
              return { label: name === '' ? ref : `${ref.split(':', 1)[0]} ${name}`, value: c.n };
            }),
            { title: `Findings by ${heading}` },
          );
    return `<div class="framework keep"><h3>${esc(heading)}</h3>${chart}${table}</div>`;
  };
  return `<section id="frameworks">
<h2>Findings by framework</h2>
<p>Findings of the period (open and resolved) counted once per id they name: a finding may name several.</p>
${block('owasp-llm-table', 'OWASP Top 10 for LLM Applications (2025)', 'owasp_llm', (f) => f.owasp_llm)}
${block('owasp-agentic-table', 'OWASP Top 10 for Agentic Applications (2026)', 'owasp_agentic', (f) => f.owasp_agentic)}
${block('atlas-table', 'MITRE ATLAS', 'mitre_atlas', (f) => f.mitre_atlas)}
</section>`;
}

function inventorySection(d: ReportData): string {
  const kinds = [...countBy(d.inventory, (a) => a.kind)].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const approvals = countBy(d.inventory, (a) => a.approval);
  const rows = d.inventory
    .map(
      (a) =>
        `<tr class="asset approval-${esc(a.approval)}"><td>${esc(a.kind)}</td><td>${esc(a.name)}</td><td><span class="approval ${esc(
          a.approval,
        )}">${esc(a.approval === 'unjudged' ? '—' : a.approval)}</span></td><td>${esc(a.owner ?? '—')}</td><td class="num">${esc(
          int(a.open_findings),
        )}</td><td class="num">${esc(int(a.events))}</td><td class="small">${esc(micros(a.first_seen))}</td><td class="small">${esc(
          micros(a.last_seen),
        )}</td></tr>`,
    )
    .join('\n');
  return `<section id="inventory">
<h2>AI inventory</h2>
<p>${esc(int(d.inventory.length))} asset${d.inventory.length === 1 ? '' : 's'} seen in the period: ${kinds
    .map(([k, c]) => `${esc(int(c))} ${esc(k)}`)
    .join(', ')}. Approval by the inventory policy: ${esc(int(approvals.get('approved') ?? 0))} approved, ${esc(
    int(approvals.get('unapproved') ?? 0),
  )} unapproved, ${esc(int(approvals.get('unjudged') ?? 0))} not judged (kinds the policy does not approve, or no policy).</p>
${
  d.inventory.length === 0
    ? '<p>No assets.</p>'
    : `<table id="inventory-table"><thead><tr><th>Kind</th><th>Name</th><th>Approval</th><th>Owner</th><th class="num">Open findings</th><th class="num">Events</th><th>First seen</th><th>Last seen</th></tr></thead><tbody>
${rows}
</tbody></table>`
}
</section>`;
}

function complianceSection(d: ReportData): string {
  const controls = CONTROLS.map((c) => ({ c, evidence: c.evidence(d), operating: c.operating(d) }));
  const status = (ok: boolean): string =>
    ok ? '<span class="status ok">evidence</span>' : '<span class="status gap">no evidence</span>';
  const controlRows = controls
    .map(
      ({ c, evidence, operating }) =>
        `<tr><td><strong>${esc(c.id)}</strong> ${esc(c.name)}</td><td class="small">${esc(c.capability)}</td><td class="small">${esc(
          c.nist.join(', '),
        )}</td><td class="small">${esc(c.eu.join(', '))}</td><td>${esc(evidence)}</td><td>${status(operating)}</td></tr>`,
    )
    .join('\n');
  const nistRows = NIST_FUNCTIONS.map((fn) => {
    const mine = controls.filter(({ c }) => c.nist.some((ref) => nistFunctionOf(ref) === fn));
    return `<tr><td><strong>${esc(fn)}</strong><div class="small">${esc(NIST_DESCRIPTIONS[fn])}</div></td><td>${mine
      .map(({ c }) => `${esc(c.id)} ${esc(c.name)}`)
      .join(
        '<br>',
      )}</td><td class="num">${esc(int(mine.filter((m) => m.operating).length))}/${esc(int(mine.length))}</td></tr>`;
  }).join('\n');
  const euRows = EU_ARTICLES.map((art) => {
    const mine = controls.filter(({ c }) => c.eu.includes(art));
    return `<tr><td><strong>${esc(art)}</strong><div class="small">${esc(EU_DESCRIPTIONS[art])}</div></td><td>${mine
      .map(
        ({ c, evidence }) =>
          `<div><strong>${esc(c.id)}</strong> ${esc(c.name)}: <span class="small">${esc(evidence)}</span></div>`,
      )
      .join(
        '',
      )}</td><td class="num">${esc(int(mine.filter((m) => m.operating).length))}/${esc(int(mine.length))}</td></tr>`;
  }).join('\n');
  return `<section id="compliance">
<h2>Controls and compliance mapping</h2>
<p>Which aispm capability provides evidence for each control, where the control maps in the NIST AI Risk Management Framework (AI RMF 1.0) and the EU AI Act, and the live figures of the period. "Evidence" means the figures show the control operating; it is an aid to an assessment, not a conformity assessment.</p>
<table id="controls-table"><thead><tr><th>Control</th><th>aispm capability</th><th>NIST AI RMF</th><th>EU AI Act</th><th>Live evidence</th><th>Status</th></tr></thead><tbody>
${controlRows}
</tbody></table>
<h3>NIST AI RMF functions</h3>
<table id="nist-table"><thead><tr><th>Function</th><th>Controls</th><th class="num">With evidence</th></tr></thead><tbody>
${nistRows}
</tbody></table>
<h3>EU AI Act obligations</h3>
<table id="eu-table"><thead><tr><th>Obligation</th><th>Controls and live figures</th><th class="num">With evidence</th></tr></thead><tbody>
${euRows}
</tbody></table>
</section>`;
}

function methodSection(d: ReportData): string {
  const policies = Object.entries(d.events.byPolicy)
    .sort((a, b) => b[1] - a[1])
    .map(([p, c]) => `${esc(p || 'unset')} ${esc(int(c))}`)
    .join(', ');
  return `<section id="method" class="keep">
<h2>How the figures are made</h2>
<ul class="small">
<li>The posture score (0–100, 100: nothing to fix) is computed from the open findings and the inventory: each finding weighs by severity and confidence in its category, with diminishing returns; an unapproved asset counts against shadow AI; the total is the product of the category scores.</li>
<li>Findings are those whose activity (first to last seen) overlaps the period, with their status now; evidence is redacted by the detectors before it is stored. The score counts the open ones.</li>
<li>Events in the period by capture policy: ${policies || 'none'}. ${esc(int(d.events.scored))} events carry an anomaly score; ${esc(
    int(d.events.driftReports),
  )} drift reports.</li>
<li>Framework ids: OWASP Top 10 for LLM Applications 2025, OWASP Top 10 for Agentic Applications 2026, MITRE ATLAS.</li>
</ul>
<p class="small footer">aispm report · tenant ${esc(d.tenant)} · ${esc(isoSecond(d.generatedAt))} UTC</p>
</section>`;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

const CSS = `
:root { --ink: #1d2330; --muted: #5b6472; --line: #d9dee6; --bg: #f6f7f9; --accent: #1f3a5f; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 19px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--accent); color: var(--accent); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p { margin: 6px 0 10px; }
.meta, .small { color: var(--muted); font-size: 12px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: var(--bg); }
.card-label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card-value { font-size: 28px; font-weight: 700; }
.card-value small { font-size: 14px; color: var(--muted); font-weight: 400; }
.card-note { font-size: 12px; color: var(--muted); }
.card.good .card-value { color: #1e7d4f; } .card.fair .card-value { color: #b9770e; } .card.poor .card-value { color: #b03a2e; }
td.good { color: #1e7d4f; } td.fair { color: #b9770e; } td.poor { color: #b03a2e; font-weight: 600; }
table { width: 100%; border-collapse: collapse; margin: 8px 0 14px; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 5px 7px; border-bottom: 1px solid var(--line); }
th { background: var(--bg); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; background: var(--bg); padding: 1px 3px; border-radius: 3px; white-space: pre-wrap; word-break: break-word; }
.evidence ul { margin: 0; padding-left: 16px; }
.finding-title { font-weight: 600; word-break: break-word; }
.refs { margin-top: 3px; } .ref { display: inline-block; font-size: 11px; border: 1px solid var(--line); border-radius: 3px; padding: 0 4px; margin: 1px 2px 0 0; }
.sev { display: inline-block; font-size: 11px; font-weight: 700; color: #fff; border-radius: 3px; padding: 1px 6px; text-transform: uppercase; }
.sev-critical { background: #8e1b1b; } .sev-high { background: #c0392b; } .sev-medium { background: #d68910; } .sev-low { background: #2874a6; } .sev-info { background: #7f8c8d; }
.approval.approved { color: #1e7d4f; font-weight: 600; } .approval.unapproved { color: #b03a2e; font-weight: 700; }
.status { font-size: 11px; font-weight: 700; border-radius: 3px; padding: 1px 6px; white-space: nowrap; }
.status-open { font-size: 11px; font-weight: 700; color: #b03a2e; } .status-resolved { font-size: 11px; color: #1e7d4f; }
.status.ok { background: #d8efe3; color: #1e7d4f; } .status.gap { background: #f8e0dc; color: #b03a2e; }
.actions li { margin: 3px 0; }
.figure { margin: 8px 0 12px; }
.chart { max-width: 100%; height: auto; display: block; }
.line-chart { width: 100%; }
.chart .grid { stroke: #e6e9ef; stroke-width: 1; } .chart .axis { stroke: #9aa3b0; stroke-width: 1; }
.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--muted); }
.chart .label { fill: var(--ink); }
.legend { font-size: 12px; color: var(--muted); } .legend .key { margin-right: 12px; white-space: nowrap; } .legend svg { vertical-align: middle; margin-right: 4px; }
.footer { margin-top: 24px; border-top: 1px solid var(--line); padding-top: 6px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size: 11px; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid-page; }
  h3 { break-after: avoid-page; }
  .keep, .figure, tr { break-inside: avoid-page; }
  thead { display: table-header-group; }
  .cards { grid-template-columns: repeat(4, 1fr); }
  #risks, #inventory, #compliance { break-before: page; }
}
`;
