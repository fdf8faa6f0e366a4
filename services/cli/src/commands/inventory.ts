import { parseArgs } from 'node:util';
import { loadConfig, type Logger } from '@aispm/core';
import {
  ASSET_KINDS,
  EMPTY_POLICY,
  isAssetKind,
  loadPolicy,
  readInventory,
  type InventoryAsset,
  type InventoryPolicy,
} from '@aispm/processor';
import { UsageError } from '../usage.ts';
import { openReadSource } from './inventory-source.ts';

export const INVENTORY_HELP = `Usage: aispm inventory [options]

Lists the AI assets the events name — apps, agents, models, providers, tools, MCP
servers, identities, model endpoints and tool destinations — per tenant, with when each was first and
last seen, how many events named it, the apps and agents it was seen with, its
owner and approval status from the inventory policy, and its open findings.

Approval: "approved" or "unapproved" for providers, models, apps, model
endpoints and MCP servers (by host) when the policy lists that kind; "-"
(unjudged) otherwise: a tool's destination is the exfiltration detector's to judge.

Reads the store: in embedded mode through the SQL endpoint of a running
\`aispm up\` when AISPM_SQL_KEYS holds the tenant's key (tenant:key) and the
endpoint answers, else the chdb folder directly (not while \`aispm up\` holds it);
in distributed mode the ClickHouse server.

Options:
  --tenant <t>     one tenant (default: every tenant the store holds, or every
                   tenant of AISPM_SQL_KEYS through the SQL endpoint)
  --kind <k>       one kind: ${ASSET_KINDS.join(', ')}
  --policy <file>  inventory policy JSON (default AISPM_POLICY_FILE; none: nothing judged)
  --json           JSON lines, one per asset, instead of a table
  --data-dir <p>   where embedded-mode data is (default ./data, or AISPM_DATA_DIR)
  -h, --help       show this help`;

export interface InventoryReport {
  tenant: string;
  assets: InventoryAsset[];
}

export async function inventoryCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      tenant: { type: 'string' },
      kind: { type: 'string' },
      policy: { type: 'string' },
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${INVENTORY_HELP}\n`);
    return 0;
  }
  if (values.kind !== undefined && !isAssetKind(values.kind))
    throw new UsageError(`--kind expects one of ${ASSET_KINDS.join(', ')}, got "${values.kind}"`);
  const policy = policyFrom(values.policy);
  const config = loadConfig(process.env, { dataDir: values['data-dir'] });
  const source = await openReadSource(config, log, { tenant: values.tenant });
  try {
    const reports: InventoryReport[] = [];
    for (const tenant of await source.tenants()) {
      const assets = await readInventory(source.forTenant(tenant), tenant, policy, { kind: values.kind });
      reports.push({ tenant, assets });
    }
    process.stdout.write(values.json ? inventoryJson(reports) : inventoryTable(reports, source.via));
  } finally {
    await source.close();
  }
  return 0;
}

/** The policy from --policy, else AISPM_POLICY_FILE, else the empty policy (nothing judged). */
export function policyFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): InventoryPolicy {
  const file = flag ?? (env.AISPM_POLICY_FILE || undefined);
  return file === undefined ? EMPTY_POLICY : loadPolicy(file);
}

/** One JSON object per asset and line, its tenant and times (ISO 8601) included. */
export function inventoryJson(reports: readonly InventoryReport[]): string {
  return reports
    .flatMap(({ tenant, assets }) =>
      assets.map(
        (a) =>
          `${JSON.stringify({
            tenant,
            kind: a.kind,
            name: a.name,
            first_seen: isoTime(a.first_seen),
            last_seen: isoTime(a.last_seen),
            events: a.events,
            apps: a.apps,
            agents: a.agents,
            owner: a.owner,
            approval: a.approval,
            open_findings: a.open_findings,
          })}\n`,
      ),
    )
    .join('');
}

export function inventoryTable(reports: readonly InventoryReport[], via: string): string {
  if (reports.length === 0) return `no tenants with assets (read ${via})\n`;
  const out: string[] = [];
  for (const { tenant, assets } of reports) {
    out.push(`tenant ${tenant}: ${assets.length} asset${assets.length === 1 ? '' : 's'}`);
    if (assets.length === 0) {
      out.push('');
      continue;
    }
    out.push(
      table(
        ['KIND', 'NAME', 'APPROVAL', 'OWNER', 'FINDINGS', 'EVENTS', 'FIRST SEEN', 'LAST SEEN', 'SEEN WITH'],
        assets.map((a) => [
          a.kind,
          a.name,
          a.approval === 'unjudged' ? '-' : a.approval,
          a.owner ?? '-',
          String(a.open_findings),
          String(a.events),
          isoTime(a.first_seen).slice(0, 19).replace('T', ' '),
          isoTime(a.last_seen).slice(0, 19).replace('T', ' '),
          seenWith(a),
        ]),
      ),
    );
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function seenWith(a: InventoryAsset): string {
  const parts: string[] = [];
  if (a.kind !== 'app' && a.apps.length > 0) parts.push(`apps ${a.apps.join(',')}`);
  if (a.kind !== 'agent' && a.agents.length > 0) parts.push(`agents ${a.agents.join(',')}`);
  return parts.join('; ') || '-';
}

export const isoTime = (micros: number): string => new Date(Math.floor(micros / 1000)).toISOString();

/** Columns padded to their widest cell; long cells are cut with an ellipsis. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], maxWidth = 48): string {
  const cut = (s: string): string => (s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s);
  const cells = [header, ...rows].map((row) => row.map(cut));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
