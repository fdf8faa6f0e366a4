import { parseArgs } from 'node:util';
import { loadConfig, type Logger } from '@aispm/core';
import { CATEGORIES, computePosture, type Posture, type PostureScore as Score } from '@aispm/processor';
import { openReadSource } from './inventory-source.ts';
import { policyFrom, table } from './inventory.ts';

export const POSTURE_HELP = `Usage: aispm posture [options]

Prints the current posture: a 0-100 score (100: nothing to fix) for each tenant and
each of its assets, with the breakdown by category — injection exposure, data
leakage, agency, shadow AI, model integrity, anomalies — and the three actions that
would raise each score most, with the points each would gain.

Scores come from the open findings and the inventory: every open finding weighs by
its severity and confidence in its category, with diminishing returns (the k-th
finding of a category counts half as much as the one before); an asset the
inventory policy does not approve counts against shadow AI. A category can take at
most its share of the score; the total is the product of the category scores.
Computed now from the store (as the posture job does each minute into the posture
table).

Reads the store as \`aispm inventory\` does (see its --help).

Options:
  --tenant <t>     one tenant (default: every tenant)
  --policy <file>  inventory policy JSON (default AISPM_POLICY_FILE; none: nothing unapproved)
  --all            list every asset, also those at 100 (default: only those below)
  --json           one JSON object per tenant, with its assets
  --data-dir <p>   where embedded-mode data is (default ./data, or AISPM_DATA_DIR)
  -h, --help       show this help`;

export interface PostureReport {
  tenant: string;
  posture: Posture;
}

export async function postureCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      tenant: { type: 'string' },
      policy: { type: 'string' },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${POSTURE_HELP}\n`);
    return 0;
  }
  const policy = policyFrom(values.policy);
  const config = loadConfig(process.env, { dataDir: values['data-dir'] });
  const source = await openReadSource(config, log, { tenant: values.tenant });
  try {
    const reports: PostureReport[] = [];
    for (const tenant of await source.tenants()) {
      reports.push({ tenant, posture: await computePosture(source.forTenant(tenant), tenant, policy) });
    }
    process.stdout.write(values.json ? postureJson(reports, values.all) : postureText(reports, values.all, source.via));
  } finally {
    await source.close();
  }
  return 0;
}

const round = (value: number): number => Math.round(value * 10) / 10;

function scoreJson(s: Score): Record<string, unknown> {
  return {
    score: round(s.score),
    categories: Object.fromEntries(CATEGORIES.map((c) => [c, round(s.categories[c])])),
    open_findings: s.open_findings,
    actions: s.actions.map((a) => ({ ...a, points: round(a.points) })),
  };
}

/** One JSON object per tenant and line; scores and points to one decimal. */
export function postureJson(reports: readonly PostureReport[], all = true): string {
  return reports
    .map(
      ({ tenant, posture }) =>
        `${JSON.stringify({
          tenant,
          ...scoreJson(posture),
          assets: posture.assets
            .filter((a) => all || a.score < 100)
            .map((a) => ({ kind: a.kind, name: a.name, approval: a.approval, owner: a.owner, ...scoreJson(a) })),
        })}\n`,
    )
    .join('');
}

const SHORT: Record<(typeof CATEGORIES)[number], string> = {
  injection_exposure: 'INJECT',
  data_leakage: 'LEAK',
  agency: 'AGENCY',
  shadow_ai: 'SHADOW',
  model_integrity: 'MODEL',
  anomalies: 'ANOMALY',
};

export function postureText(reports: readonly PostureReport[], all: boolean, via: string): string {
  if (reports.length === 0) return `no tenants with assets or findings (read ${via})\n`;
  const out: string[] = [];
  const fmt = (v: number): string => round(v).toFixed(1);
  for (const { tenant, posture } of reports) {
    out.push(`tenant ${tenant}: posture ${fmt(posture.score)}/100, ${posture.open_findings} open findings`);
    out.push(`  ${CATEGORIES.map((c) => `${c.replaceAll('_', ' ')} ${fmt(posture.categories[c])}`).join(' · ')}`);
    out.push(...actionLines(posture, '  '));
    const shown = posture.assets.filter((a) => all || a.score < 100);
    const hidden = posture.assets.length - shown.length;
    if (shown.length > 0) {
      out.push('');
      out.push(
        table(
          ['KIND', 'NAME', 'SCORE', ...CATEGORIES.map((c) => SHORT[c]), 'FINDINGS', 'APPROVAL', 'OWNER'],
          shown.map((a) => [
            a.kind,
            a.name,
            fmt(a.score),
            ...CATEGORIES.map((c) => fmt(a.categories[c])),
            String(a.open_findings),
            a.approval === 'unjudged' ? '-' : a.approval,
            a.owner ?? '-',
          ]),
        )
          .split('\n')
          .map((line) => `  ${line}`)
          .join('\n'),
      );
      for (const a of shown) {
        if (a.actions.length === 0) continue;
        out.push('');
        out.push(`  ${a.kind} ${a.name} (${fmt(a.score)}):`);
        out.push(...actionLines(a, '    '));
      }
    }
    if (hidden > 0) out.push('', `  ${hidden} more asset${hidden === 1 ? '' : 's'} at 100 (--all lists them)`);
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function actionLines(s: Score, indent: string): string[] {
  if (s.actions.length === 0) return [`${indent}nothing to fix`];
  return s.actions.map((a, i) => `${indent}${i + 1}. +${round(a.points).toFixed(1)}  ${a.title}`);
}
