import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  ALERT_RULES,
  CLICKHOUSE_PLUGIN,
  DATASOURCE_UID,
  OPERATOR_DATASOURCE_UID,
  VARIABLES,
  alertRulesProvisioning,
  buildDashboards,
  dashboardsProvisioning,
  datasourceProvisioning,
  toYaml,
  type BuiltDashboard,
} from '../../dashboards/index.ts';

/**
 * Every dashboard, as built and as `aispm dashboards build` writes it, is valid
 * against Grafana's dashboard JSON Schema (third_party/grafana-foundation-sdk),
 * and every panel, variable and alert rule queries the ClickHouse datasource with
 * a SQL query.
 */
const repo = join(import.meta.dirname, '../..');
const SCHEMAS = join(repo, 'third_party/grafana-foundation-sdk');
const readJson = (path: string): unknown => JSON.parse(readFileSync(join(SCHEMAS, path), 'utf8'));
/** The Grafana versions the dashboards must load in: the SDK's schemas of each (see that folder's README). */
const GRAFANA = ['v11', 'v12'] as const;
type Grafana = (typeof GRAFANA)[number];
/** The panel types whose schemas are taken in; a dashboard using another fails until its schema is. */
const PANEL_TYPES = ['barchart', 'piechart', 'stat', 'table', 'timeseries'] as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const dashboardSchemas = Object.fromEntries(
  GRAFANA.map((v) => [v, readJson(`dashboard.${v}.jsonschema.json`) as DashboardSchema]),
) as Record<Grafana, DashboardSchema>;
/** A dashboard schema: `$ref` to its Dashboard definition, whose schemaVersion defaults to the newest that Grafana version writes. */
interface DashboardSchema {
  definitions: { Dashboard: { properties: { schemaVersion: { default: number } } } };
}
const newestSchemaVersion = (v: Grafana): number =>
  dashboardSchemas[v].definitions.Dashboard.properties.schemaVersion.default;
const validators = Object.fromEntries(GRAFANA.map((v) => [v, ajv.compile(dashboardSchemas[v])])) as Record<
  Grafana,
  ReturnType<typeof ajv.compile>
>;
for (const v of GRAFANA) {
  for (const type of PANEL_TYPES)
    ajv.addSchema(readJson(`panels/${v}/${type}.jsonschema.json`) as object, `${v}/${type}`);
}
/** A panel schema's definition (Options, FieldConfig), or undefined when the panel type has none (stat: no custom field config). */
function panelPart(v: Grafana, type: string, part: 'Options' | 'FieldConfig'): ValidateFunction | undefined {
  const schema = ajv.getSchema(`${v}/${type}`)?.schema as { definitions?: Record<string, unknown> } | undefined;
  return schema?.definitions?.[part] === undefined ? undefined : ajv.getSchema(`${v}/${type}#/definitions/${part}`);
}
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

interface Target {
  datasource?: { type?: string; uid?: string };
  editorType?: string;
  rawSql?: string;
  format?: number;
  queryType?: string;
  pluginVersion?: string;
}
interface PanelJson {
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  gridPos?: { x: number; y: number; w: number; h: number };
}

/** Valid against the dashboard schema of every Grafana version the dashboards target. */
function expectValid(json: unknown, name: string): void {
  for (const v of GRAFANA) {
    const check = validators[v];
    expect(check(json), `${name} (Grafana ${v}): ${JSON.stringify(check.errors, null, 1)}`).toBe(true);
  }
}

describe('dashboards as code', () => {
  const dashboards = buildDashboards();

  it('builds the dashboards the SOC needs, with distinct uids', () => {
    expect(dashboards.map((d) => d.json.title)).toEqual([
      'aispm · Posture overview',
      'aispm · AI inventory and shadow AI',
      'aispm · Prompt injection and data leakage',
      'aispm · Agent behaviour and anomalies',
      'aispm · Drift',
      'aispm · Identities, permissions and toxic combinations',
      'aispm · Cost',
      'aispm · Pipeline health',
    ]);
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
  });

  it.each(dashboards.map((d) => [d.uid, d] as [string, BuiltDashboard]))(
    '%s is valid against Grafana 11’s and Grafana 12’s dashboard JSON Schemas',
    (_uid, d) => {
      expectValid(plain(d.json), d.uid);
    },
  );

  it.each(dashboards.map((d) => [d.uid, d] as [string, BuiltDashboard]))(
    '%s uses only what Grafana 11 has: its schemaVersion, its panel types, their options and field config',
    (_uid, d) => {
      const json = plain(d.json) as {
        schemaVersion: number;
        panels: { type: string; title: string; options?: unknown; fieldConfig?: { defaults?: { custom?: object } } }[];
      };
      // Grafana 11 does not migrate a dashboard from a schemaVersion newer than its own; Grafana 12 migrates an older one on load.
      expect(json.schemaVersion).toBe(newestSchemaVersion('v11'));
      expect(json.schemaVersion).toBeLessThanOrEqual(newestSchemaVersion('v12'));
      for (const p of json.panels) {
        expect(PANEL_TYPES, `${d.uid} / ${p.title}: panel type ${p.type} has no schema taken in`).toContain(p.type);
        for (const v of GRAFANA) {
          const options = panelPart(v, p.type, 'Options');
          expect(options, `${v}/${p.type} has Options`).toBeDefined();
          expect(
            options?.(p.options ?? {}),
            `${d.uid} / ${p.title} options (Grafana ${v}): ${JSON.stringify(options?.errors)}`,
          ).toBe(true);
          const custom = p.fieldConfig?.defaults?.custom ?? {};
          const fieldConfig = panelPart(v, p.type, 'FieldConfig');
          if (fieldConfig === undefined)
            expect(custom, `${d.uid} / ${p.title}: ${p.type} has no custom field config`).toEqual({});
          else
            expect(
              fieldConfig(custom),
              `${d.uid} / ${p.title} field config (Grafana ${v}): ${JSON.stringify(fieldConfig.errors)}`,
            ).toBe(true);
        }
      }
    },
  );

  it('the schemas catch a broken dashboard and a panel option Grafana 11 lacks (the checks are not vacuous)', () => {
    const broken = plain(dashboards[0]?.json) as Record<string, unknown>;
    for (const v of GRAFANA) {
      const check = validators[v];
      expect(check({ ...broken, schemaVersion: 'forty' })).toBe(false);
      expect(check({ ...broken, panels: [{ gridPos: { x: 0 } }] })).toBe(false);
      expect(check({ ...broken, tags: 'aispm' })).toBe(false);
    }
    delete broken.templating;
    expect(validators.v11(broken)).toBe(false);
    expect(validators.v12(broken)).toBe(false);
    // Added in Grafana 12 (dashboard links placed in the controls menu): Grafana 11's schema refuses it, 12's takes it.
    const placed = {
      ...(plain(dashboards[0]?.json) as object),
      links: [
        {
          title: 'x',
          type: 'link',
          url: '/',
          placement: 'inControlsMenu',
          tags: [],
          asDropdown: false,
          targetBlank: false,
          includeVars: false,
          keepTime: false,
          icon: 'external link',
          tooltip: '',
        },
      ],
    };
    expect(validators.v11(placed)).toBe(false);
    expect(validators.v12(placed)).toBe(true);
    const tablePanel = dashboards
      .flatMap((d) => (plain(d.json) as { panels: { type: string; options?: object }[] }).panels)
      .find((p) => p.type === 'table');
    const tableOptions = panelPart('v11', 'table', 'Options');
    expect(tableOptions?.(tablePanel?.options)).toBe(true);
    expect(tableOptions?.({ ...tablePanel?.options, notAnOption: 1 })).toBe(false);
  });

  it.each(dashboards.map((d) => [d.uid, d] as [string, BuiltDashboard]))(
    '%s: every panel is a ClickHouse SQL query the tests know, laid out on the grid',
    (_uid, d) => {
      const panels = (plain(d.json) as { panels: PanelJson[] }).panels;
      expect(panels.length).toBeGreaterThan(0);
      expect(panels.map((p) => p.title)).toEqual(d.queries.map((q) => q.panel));
      // Pipeline health reads the pipeline's own tables as the operator; every other dashboard, the tenants' rows.
      const uid = d.uid === 'aispm-pipeline' ? OPERATOR_DATASOURCE_UID : DATASOURCE_UID;
      for (const [i, p] of panels.entries()) {
        expect(p.datasource).toEqual({ type: CLICKHOUSE_PLUGIN, uid });
        expect(p.targets).toHaveLength(1);
        const t = p.targets?.[0];
        expect(t).toMatchObject({ editorType: 'sql', datasource: p.datasource, pluginVersion: '4.20.0' });
        expect(t?.rawSql).toBe(d.queries[i]?.rawSql);
        expect(t?.format).toBe(p.type === 'timeseries' ? 0 : 1);
        expect(t?.queryType).toBe(p.type === 'timeseries' ? 'timeseries' : 'table');
        expect(p.gridPos && p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      }
    },
  );

  it('every dashboard of tenant data has the tenant, app and agent variables, multi-value with All', () => {
    // Pipeline health reads no tenant's rows (the operator's datasource): nothing to filter by tenant.
    expect(
      (plain(dashboards.find((d) => d.uid === 'aispm-pipeline')?.json) as { templating: { list: unknown[] } })
        .templating.list,
    ).toEqual([]);
    for (const d of dashboards.filter((x) => x.uid !== 'aispm-pipeline')) {
      const list = (plain(d.json) as { templating: { list: Record<string, unknown>[] } }).templating.list;
      expect(list.slice(0, 3).map((v) => v.name)).toEqual(['tenant', 'app', 'agent']);
      for (const [i, v] of list.slice(0, 3).entries()) {
        expect(v).toMatchObject({
          type: 'query',
          multi: true,
          includeAll: true,
          datasource: { type: CLICKHOUSE_PLUGIN, uid: DATASOURCE_UID },
          query: VARIABLES[i]?.sql,
        });
      }
    }
  });

  it('the agents dashboard drills down from an anomaly to its trace', () => {
    const agents = plain(dashboards.find((d) => d.uid === 'aispm-agents')?.json) as {
      templating: { list: { name: string; type: string }[] };
      panels: { title: string; fieldConfig: { defaults: { links?: { title: string; url: string }[] } } }[];
    };
    expect(agents.templating.list.map((v) => [v.name, v.type])).toContainEqual(['trace', 'textbox']);
    const links = agents.panels.find((p) => p.title === 'Top anomalies')?.fieldConfig.defaults.links ?? [];
    expect(links.map((l) => l.url)).toEqual([
      '/d/aispm-agents?var-trace=${__data.fields.trace_id}&${__url_time_range}&${tenant:queryparam}',
      '/d/aispm-agents?var-trace=${__data.fields.conversation_id}&${__url_time_range}&${tenant:queryparam}',
    ]);
  });

  it('alert rules: ClickHouse query, reduce, threshold; `$` escaped for Grafana’s env interpolation', () => {
    const doc = alertRulesProvisioning() as {
      apiVersion: number;
      groups: {
        rules: {
          uid: string;
          condition: string;
          data: { refId: string; datasourceUid: string; model: Record<string, unknown> }[];
        }[];
      }[];
    };
    expect(doc.apiVersion).toBe(1);
    const rules = doc.groups[0]?.rules ?? [];
    expect(rules.map((r) => r.uid)).toEqual([
      'aispm-posture-drop',
      'aispm-critical-finding',
      'aispm-anomaly-burst',
      'aispm-pipeline-lag',
    ]);
    for (const [i, r] of rules.entries()) {
      expect(r.condition).toBe('C');
      expect(r.data.map((q) => [q.refId, q.datasourceUid])).toEqual([
        ['A', r.uid === 'aispm-pipeline-lag' ? OPERATOR_DATASOURCE_UID : DATASOURCE_UID],
        ['B', '__expr__'],
        ['C', '__expr__'],
      ]);
      expect(r.data[0]?.model.rawSql).toBe(ALERT_RULES[i]?.query.rawSql.replaceAll('$', '$$$$'));
      expect(r.data[1]?.model).toMatchObject({ type: 'reduce', expression: 'A' });
      expect(r.data[2]?.model).toMatchObject({ type: 'threshold', expression: 'B' });
    }
  });

  it('`aispm dashboards build` writes schema-valid dashboards and the provisioning files', async () => {
    const out = mkdtempSync(join(tmpdir(), 'aispm-grafana-'));
    try {
      const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [join(repo, 'services/cli/src/main.ts'), 'dashboards', 'build', '--out', out, '--port', '18123'],
          // Without the caller's AISPM_* settings: the defaults are what is checked.
          { cwd: repo, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AISPM_'))) },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('wrote 8 dashboards and 3 provisioning files');
      const files = readdirSync(join(out, 'dashboards')).sort();
      expect(files).toEqual(dashboards.map((d) => d.file).sort());
      for (const f of files) expectValid(JSON.parse(readFileSync(join(out, 'dashboards', f), 'utf8')), f);
      const ds = readFileSync(join(out, 'provisioning/datasources/aispm.yaml'), 'utf8');
      expect(ds).toContain('type: "grafana-clickhouse-datasource"');
      expect(ds).toMatch(/host: "127\.0\.0\.1"\n\s+port: 18123\n\s+protocol: "http"/);
      expect(ds).toContain('password: "$AISPM_SQL_KEY"');
      const provider = readFileSync(join(out, 'provisioning/dashboards/aispm.yaml'), 'utf8');
      expect(provider).toContain(`path: ${JSON.stringify(join(out, 'dashboards'))}`);
      const alerts = readFileSync(join(out, 'provisioning/alerting/aispm.yaml'), 'utf8');
      expect(alerts).toContain('$$__timeFilter(time)');
      expect(alerts).not.toMatch(/(?<!\$)\$(?!\$)/);
      // What Grafana's YAML parser reads is exactly the documents.
      expect(parseYaml(ds)).toEqual(datasourceProvisioning({ port: 18123 }));
      expect(parseYaml(provider)).toEqual(dashboardsProvisioning(join(out, 'dashboards')));
      expect(parseYaml(alerts)).toEqual(alertRulesProvisioning());
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('toYaml writes YAML that reads back as the same data', () => {
    const doc = {
      s: 'multi\nline "quoted" \\ back: slash # not a comment',
      unicode: 'caf\u00e9 \u2014 \u{1F600}',
      numbers: [0, -1.5, 1e21],
      flags: [true, false, null],
      empty: { list: [], map: {} },
      nested: [[1, [2]], { a: [{ b: 'c' }] }],
      'odd key: x': 'yes',
      keyword: 'no',
      numeric: '0123',
    };
    expect(parseYaml(toYaml(doc))).toEqual(doc);
  });

  it('`aispm dashboards` without "build" is a usage error', async () => {
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), 'dashboards'], { cwd: repo });
      child.on('close', resolve);
    });
    expect(code).toBe(2);
  });
});
