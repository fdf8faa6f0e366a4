import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEMO_POLICY, runDemo } from '@aispm/cli';
import { findingId, loadConfig, silentLogger } from '@aispm/core';
import { ChdbStore, clickhouseTime } from '@aispm/store';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `aispm report` end to end: the demo fills a store with findings of every
 * detector (plus one finding whose title and evidence are HTML), the report command
 * runs as a user runs it, and headless Chromium (Debian's `chromium` package,
 * driven by puppeteer-core) loads the file it wrote: no script or console errors,
 * no request leaves the page, the charts are drawn, the tables are filled, the
 * hostile finding shows as text, and printing gives a PDF of several pages.
 */
const repo = join(import.meta.dirname, '../..');
/** AISPM_CHROMIUM names the binary (and only it is tried); else Debian's paths. */
const CHROMIUM_CANDIDATES = process.env.AISPM_CHROMIUM
  ? [process.env.AISPM_CHROMIUM]
  : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const HOSTILE = `<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">Injected & "quoted"`;

/** What the test reads of the page, computed in Chromium (a script string: the project's TypeScript has no DOM types). */
interface Facts {
  scripts: number;
  images: number;
  pwned: number | null;
  h1: number;
  score: string;
  series: { name: string; points: number; length: number; width: number }[];
  bars: number[];
  titles: string[];
  findings: number;
  inventory: number;
  unapproved: number;
  owaspLlm: number;
  owaspAgentic: number;
  atlas: number;
  controls: number;
  nist: number;
  eu: number;
  categories: number;
  evidence: number;
  bodyText: string;
}

const FACTS = `(() => {
  const rows = (id) => document.querySelectorAll('#' + id + ' tbody tr').length;
  const series = [...document.querySelectorAll('svg.line-chart path.series')].map((p) => ({
    name: p.getAttribute('data-series') || '',
    points: (p.getAttribute('d') || '').split(/[ML]/).filter((s) => s.trim() !== '').length,
    length: p.getTotalLength(),
    width: p.getBBox().width,
  }));
  return {
    scripts: document.querySelectorAll('script').length,
    images: document.querySelectorAll('img').length,
    pwned: window.__pwned ?? null,
    h1: document.querySelectorAll('h1').length,
    score: document.querySelector('#score-now')?.textContent ?? '',
    series,
    bars: [...document.querySelectorAll('svg.bar-chart rect.bar')].map((r) => r.getBBox().width),
    titles: [...document.querySelectorAll('.finding-title')].map((e) => e.textContent ?? ''),
    findings: rows('findings-table'),
    inventory: rows('inventory-table'),
    unapproved: document.querySelectorAll('#inventory-table tr.approval-unapproved').length,
    owaspLlm: rows('owasp-llm-table'),
    owaspAgentic: rows('owasp-agentic-table'),
    atlas: rows('atlas-table'),
    controls: rows('controls-table'),
    nist: rows('nist-table'),
    eu: rows('eu-table'),
    categories: rows('category-table'),
    evidence: document.querySelectorAll('#findings-table .evidence li').length,
    bodyText: document.body.innerText,
  };
})()`;

let folder: string;
let file: string;
let stdout = '';
let browser: Browser | undefined;
/** Why the setup failed (Chromium missing, the demo or the command failing): every test fails with it, none is skipped. */
let setupError: unknown;

function ready(): Browser {
  if (setupError instanceof Error) throw setupError;
  if (setupError !== undefined) throw new Error(`the setup failed: ${JSON.stringify(setupError)}`);
  if (browser === undefined) throw new Error('the browser did not start');
  return browser;
}

function chromiumPath(): string {
  const found = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(
      'Chromium is not installed: the report test renders the HTML report in headless Chromium. ' +
        "Install Debian's package with `apt-get update && apt-get install -y chromium` " +
        '(or set AISPM_CHROMIUM to a Chromium binary).',
    );
  }
  return found;
}

function aispm(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), ...args], { cwd: repo, env });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err }));
  });
}

beforeAll(async () => {
  try {
    await setup();
  } catch (err) {
    setupError = err;
  }
}, 240_000);

async function setup(): Promise<void> {
  const executablePath = chromiumPath();
  folder = mkdtempSync(join(tmpdir(), 'aispm-report-'));
  // The demo writes under <data-dir>/demo; a posture score is stored every 5 s while it runs.
  const env = { ...process.env, AISPM_MODE: 'embedded', AISPM_POSTURE_INTERVAL_S: '5', AISPM_LOG_LEVEL: 'warn' };
  const config = loadConfig(env, { dataDir: folder });
  await runDemo({ durationS: 6, rate: 500, seed: 11, hours: 24, top: 5, config }, silentLogger, true);
  const demoDir = join(folder, 'demo');

  // A finding whose title, evidence and asset are markup: the report must show it as text.
  const store = await ChdbStore.open({ path: join(demoDir, 'chdb'), database: config.clickhouse.database });
  const now = Date.now() * 1000;
  await store.insert('findings', [
    {
      tenant: 'demo',
      id: findingId('demo', 'content', 'demo/hostile/-', 'prompt_injection.indirect'),
      asset: `demo/${HOSTILE}/-`,
      asset_type: 'app',
      type: 'content',
      rule: 'prompt_injection.indirect',
      severity: 'critical',
      score: 1,
      title: HOSTILE,
      evidence: [HOSTILE, '</code></td></tr></table><h1>broken</h1>'],
      event_ids: [],
      first_seen: clickhouseTime(now - 60_000_000),
      last_seen: clickhouseTime(now),
      occurrences: 1,
      status: 'open',
      owasp_llm: ['LLM01:2025'],
      owasp_agentic: ['ASI01'],
      mitre_atlas: ['AML.T0051.001'],
      model: '',
    },
  ]);
  await store.close();

  file = join(folder, 'report.html');
  const run = await aispm(['report', '--tenant', 'demo', '--policy', DEMO_POLICY, '--out', file], {
    ...env,
    AISPM_DATA_DIR: demoDir,
  });
  if (run.code !== 0) throw new Error(`aispm report exited ${run.code}: ${run.stderr}`);
  stdout = run.stdout;
  browser = await puppeteer.launch({
    executablePath,
    headless: true,
    // Root in a container has no user namespace sandbox; the page is our own local file.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

afterAll(async () => {
  await browser?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe('aispm report in headless Chromium', () => {
  it('writes one self-contained HTML file and says what it wrote', () => {
    ready();
    expect(stdout).toMatch(
      /^wrote .*report\.html \(\d+ KiB\): tenant demo, posture \d+\.\d\/100, \d+ open findings \(\d+ in the period\), \d+ assets, \d+ stored scores/,
    );
    const html = readFileSync(file, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src="http|href="http/i);
  });

  it('loads with no script or console errors and no request leaving the page, charts drawn and tables filled', async () => {
    const page = await ready().newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (err) => errors.push(`pageerror: ${String(err)}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warn') errors.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()}`));
    page.on('request', (req) => requests.push(req.url()));
    const response = await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    expect(response?.ok() ?? true).toBe(true);
    await page.setViewport({ width: 1200, height: 900 });

    const facts = (await page.evaluate(FACTS)) as Facts;

    expect(errors).toEqual([]);
    expect(requests.filter((url) => !url.startsWith('file:'))).toEqual([]);
    // The hostile finding is text, never markup: no script ran, no element was injected.
    expect(facts.scripts).toBe(0);
    expect(facts.images).toBe(0);
    expect(facts.pwned).toBeNull();
    expect(facts.h1).toBe(1);
    expect(facts.titles).toContain(HOSTILE);
    expect(facts.bodyText).toContain('</code></td></tr></table><h1>broken</h1>');

    expect(Number(facts.score)).toBeGreaterThanOrEqual(0);
    expect(Number(facts.score)).toBeLessThan(100);
    // The trend: the tenant's line through the stored scores and the one computed now, and one per category.
    const total = facts.series.find((s) => s.name === 'Posture score (tenant)');
    expect(total, 'the posture line').toBeDefined();
    expect(total!.points).toBeGreaterThanOrEqual(2);
    expect(total!.length).toBeGreaterThan(0);
    expect(facts.series).toHaveLength(7);
    expect(facts.bars.filter((w) => w > 0).length).toBeGreaterThan(10);

    expect(facts.findings).toBeGreaterThanOrEqual(10);
    expect(facts.evidence).toBeGreaterThan(0);
    expect(facts.inventory).toBeGreaterThan(10);
    expect(facts.unapproved).toBeGreaterThan(0);
    expect(facts.owaspLlm).toBeGreaterThanOrEqual(3);
    expect(facts.owaspAgentic).toBeGreaterThanOrEqual(1);
    expect(facts.atlas).toBeGreaterThanOrEqual(3);
    expect(facts.categories).toBe(6);
    expect(facts.controls).toBe(11);
    expect(facts.nist).toBe(4);
    expect(facts.eu).toBe(6);

    await page.screenshot({ path: join(folder, 'report.png'), fullPage: true });
    if (process.env.AISPM_REPORT_KEEP) {
      writeFileSync(join(process.env.AISPM_REPORT_KEEP, 'report.html'), readFileSync(file));
      writeFileSync(join(process.env.AISPM_REPORT_KEEP, 'report.png'), readFileSync(join(folder, 'report.png')));
    }
    await page.close();
  });

  it('prints to a PDF of several A4 pages', async () => {
    const page = await ready().newPage();
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const pdf = Buffer.from(await page.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true }));
    await page.close();
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const pages = pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g)?.length ?? 0;
    expect(pages).toBeGreaterThan(1);
    if (process.env.AISPM_REPORT_KEEP) writeFileSync(join(process.env.AISPM_REPORT_KEEP, 'report.pdf'), pdf);
  });
});
