import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { agentsDashboard } from './agents.ts';
import { alertRulesProvisioning } from './alerts.ts';
import { CLICKHOUSE_PLUGIN, DATASOURCE_UID, OPERATOR_DATASOURCE_UID } from './clickhouse.ts';
import type { BuiltDashboard } from './common.ts';
import { costDashboard } from './cost.ts';
import { driftDashboard } from './drift.ts';
import { identitiesDashboard } from './identities.ts';
import { injectionDashboard } from './injection.ts';
import { inventoryDashboard } from './inventory.ts';
import { pipelineDashboard } from './pipeline.ts';
import { postureOverview } from './posture.ts';
import { toYaml } from './yaml.ts';

/** Every aispm dashboard, built. */
export function buildDashboards(): BuiltDashboard[] {
  return [
    postureOverview(),
    inventoryDashboard(),
    injectionDashboard(),
    agentsDashboard(),
    driftDashboard(),
    identitiesDashboard(),
    costDashboard(),
    pipelineDashboard(),
  ];
}

export interface DatasourceOptions {
  /** The aispm SQL endpoint (ClickHouse HTTP interface): default 127.0.0.1:8123. */
  host?: string;
  port?: number;
  database?: string;
  /** User (the tenant of the read key); default a reference to $AISPM_SQL_USER, expanded by Grafana. */
  user?: string;
}

/**
 * The ClickHouse datasources, as Grafana's datasource provisioning reads them: the
 * tenant's (user $AISPM_SQL_USER, key $AISPM_SQL_KEY) for the SOC's dashboards, and
 * the operator's (user `operator`, key $AISPM_SQL_OPERATOR_KEY, one of
 * AISPM_SQL_OPERATOR_KEYS) for Pipeline health, which reads no tenant's rows.
 */
export function datasourceProvisioning(options: DatasourceOptions = {}): Record<string, unknown> {
  const source = (name: string, uid: string, username: string, password: string): Record<string, unknown> => ({
    name,
    uid,
    type: CLICKHOUSE_PLUGIN,
    access: 'proxy',
    isDefault: false,
    editable: false,
    jsonData: {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8123,
      protocol: 'http',
      secure: false,
      username,
      defaultDatabase: options.database ?? 'aispm',
    },
    // Grafana expands $AISPM_SQL_KEY (and the operator's) from its environment when it reads the file: no secret on disk.
    secureJsonData: { password },
  });
  return {
    apiVersion: 1,
    datasources: [
      source('aispm', DATASOURCE_UID, options.user ?? '$AISPM_SQL_USER', '$AISPM_SQL_KEY'),
      source('aispm (operator)', OPERATOR_DATASOURCE_UID, 'operator', '$AISPM_SQL_OPERATOR_KEY'),
    ],
  };
}

/** The file provider that loads the dashboards folder into a Grafana folder named aispm. */
export function dashboardsProvisioning(dashboardsDir: string): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: [
      {
        name: 'aispm',
        orgId: 1,
        folder: 'aispm',
        type: 'file',
        disableDeletion: false,
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        options: { path: dashboardsDir, foldersFromFilesStructure: false },
      },
    ],
  };
}

export interface WrittenFiles {
  dashboards: string[];
  provisioning: string[];
}

/**
 * Writes <out>/dashboards/*.json and, for Grafana's provisioning folder
 * (GF_PATHS_PROVISIONING=<out>/provisioning), the datasource, dashboard provider
 * and alert rules files.
 */
export function writeGrafanaFiles(out: string, options: DatasourceOptions = {}): WrittenFiles {
  const root = resolve(out);
  const dashboardsDir = join(root, 'dashboards');
  mkdirSync(dashboardsDir, { recursive: true });
  const dashboards = buildDashboards().map((d) => {
    const file = join(dashboardsDir, d.file);
    writeFileSync(file, `${JSON.stringify(d.json, null, 2)}\n`);
    return file;
  });
  const files: [string, Record<string, unknown>][] = [
    ['datasources/aispm.yaml', datasourceProvisioning(options)],
    ['dashboards/aispm.yaml', dashboardsProvisioning(dashboardsDir)],
    ['alerting/aispm.yaml', alertRulesProvisioning()],
  ];
  const provisioning = files.map(([name, doc]) => {
    const file = join(root, 'provisioning', name);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, toYaml(doc));
    return file;
  });
  return { dashboards, provisioning };
}
