import { approval, ownerOf, type Approval, type ApprovalKind } from '../detectors/policy.ts';
import type { InventoryPolicy } from '../detectors/types.ts';

/**
 * The AI asset inventory (issue 21): every app, agent, model, provider, tool, MCP
 * server, identity and destination the tenant's events name, from the `assets`
 * table (schemas/clickhouse/010_assets.sql), with its owner and approval status
 * from the inventory policy and the number of open findings on it.
 */
export const ASSET_KINDS = [
  'app',
  'agent',
  'model',
  'provider',
  'tool',
  'mcp_server',
  'identity',
  'endpoint',
  'destination',
] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];

export const isAssetKind = (value: string): value is AssetKind => (ASSET_KINDS as readonly string[]).includes(value);

/** One asset as the `assets` table has it. */
export interface AssetRow {
  kind: string;
  name: string;
  /** Microseconds since the epoch. */
  first_seen: number;
  last_seen: number;
  /** Distinct events that named it (approximate above a few thousand). */
  events: number;
  /** Apps and agents it was seen with: at most 16 of each. */
  apps: string[];
  agents: string[];
}

/** An inventory entry: the stored asset, judged by the policy. */
export interface InventoryAsset extends AssetRow {
  /** From the policy's `owners` (or `agents[name].owner`); null when it names none. */
  owner: string | null;
  /**
   * Whether the policy approves it. Providers, models, apps, destinations and MCP
   * servers (both by host, as endpoints) are judged; the other kinds are 'unjudged',
   * as is a kind whose list the policy does not have.
   */
  approval: Approval;
  /** Open findings whose asset is this one (findings name agents, apps and fleet entities). */
  open_findings: number;
}

/** The policy list an asset kind is judged against, or null for kinds the policy does not approve. */
export function approvalKindOf(kind: string): ApprovalKind | null {
  switch (kind) {
    case 'provider':
    case 'model':
    case 'app':
      return kind;
    // A model endpoint, or an MCP server, is an AI service; a tool's destination is judged by the exfiltration detector.
    case 'endpoint':
    case 'mcp_server':
      return 'endpoint';
    default:
      return null;
  }
}

/** The policy's verdict on one asset. */
export function judgeAsset(
  policy: InventoryPolicy,
  kind: string,
  name: string,
): { owner: string | null; approval: Approval } {
  const list = approvalKindOf(kind);
  return {
    owner: ownerOf(policy, kind, name),
    approval: list === null ? 'unjudged' : approval(policy, list, name),
  };
}

/** `kind:name`, the asset's reference in posture rows, actions and owners' keys. */
export const assetRef = (asset: { kind: string; name: string }): string => `${asset.kind}:${asset.name}`;

/**
 * The asset a finding is about, as (kind, name). Findings name their asset by the
 * processor's state key: `tenant/app/agent` (an agent), `tenant/app/-` (an app's
 * events without an agent) or `tenant/kind:name` (a fleet entity: user, identity,
 * model, tool), with asset_type the kind. A key of another shape keeps its text
 * after the tenant as the name.
 */
export function findingAsset(finding: { tenant: string; asset: string; asset_type: string }): {
  kind: string;
  name: string;
} {
  const prefix = `${finding.tenant}/`;
  const rest = finding.asset.startsWith(prefix) ? finding.asset.slice(prefix.length) : finding.asset;
  const kind = finding.asset_type;
  const fleet = `${kind}:`;
  if (rest.startsWith(fleet)) return { kind, name: rest.slice(fleet.length) };
  if (kind === 'app' && rest.endsWith('/-')) return { kind, name: rest.slice(0, -2) };
  if (kind === 'agent') {
    const slash = rest.lastIndexOf('/');
    if (slash >= 0) return { kind, name: rest.slice(slash + 1) };
  }
  return { kind, name: rest };
}

/** Assets as stored, judged by the policy and counted against the open findings per `kind:name`. */
export function annotateAssets(
  rows: readonly AssetRow[],
  policy: InventoryPolicy,
  openFindings: ReadonlyMap<string, number> = new Map(),
): InventoryAsset[] {
  return rows.map((row) => ({
    ...row,
    ...judgeAsset(policy, row.kind, row.name),
    open_findings: openFindings.get(assetRef(row)) ?? 0,
  }));
}
