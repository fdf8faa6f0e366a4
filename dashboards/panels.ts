import * as barchart from '@grafana/grafana-foundation-sdk/barchart';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as piechart from '@grafana/grafana-foundation-sdk/piechart';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { type ClickHouseQueryBuilder, type ColumnKind } from './clickhouse.ts';

/** What a panel's query must return: the tests run it on the engine and check the columns. */
export interface PanelQuery {
  panel: string;
  rawSql: string;
  columns: Record<string, ColumnKind>;
  /** The query may return no row on the demo's data (say why). */
  mayBeEmpty?: string;
}

export type PanelKind = 'timeseries' | 'stat' | 'table' | 'barchart' | 'piechart';

export interface PanelSpec {
  kind: PanelKind;
  title: string;
  description: string;
  query: ClickHouseQueryBuilder;
  /** Grid width (of 24) and height. */
  w?: number;
  h?: number;
  unit?: string;
  min?: number;
  max?: number;
  mayBeEmpty?: string;
  thresholds?: dashboard.ThresholdsConfigBuilder;
  /**
   * Data links on the panel's cells: Grafana's link template syntax (`${__data.fields.x}`,
   * `${__url_time_range}`). On every field, not one column: a per-field override's matcher
   * options are a string, which Grafana's published dashboard schema does not allow.
   */
  links?: { title: string; url: string }[];
}

type AnyPanel =
  timeseries.PanelBuilder | stat.PanelBuilder | table.PanelBuilder | barchart.PanelBuilder | piechart.PanelBuilder;

/** Builds an SDK panel for a spec, and records its query for the tests. */
export function panel(spec: PanelSpec, queries: PanelQuery[]): AnyPanel {
  const p = builderFor(spec);
  p.title(spec.title)
    .description(spec.description)
    .datasource(spec.query.build().datasource)
    .withTarget(spec.query)
    .span(spec.w ?? 12)
    .height(spec.h ?? 8);
  if (spec.unit !== undefined) p.unit(spec.unit);
  if (spec.min !== undefined) p.min(spec.min);
  if (spec.max !== undefined) p.max(spec.max);
  if (spec.thresholds !== undefined) p.thresholds(spec.thresholds);
  if (spec.links !== undefined) {
    p.dataLinks(
      spec.links.map((l) =>
        new dashboard.DashboardLinkBuilder(l.title).type(dashboard.DashboardLinkType.Link).url(l.url),
      ),
    );
  }
  const built = spec.query.build();
  queries.push({
    panel: spec.title,
    rawSql: built.rawSql,
    columns: spec.query.columns,
    ...(spec.mayBeEmpty ? { mayBeEmpty: spec.mayBeEmpty } : {}),
  });
  return p;
}

function builderFor(spec: PanelSpec): AnyPanel {
  switch (spec.kind) {
    case 'timeseries':
      spec.query.timeSeries();
      return new timeseries.PanelBuilder().fillOpacity(10).lineWidth(1);
    case 'stat':
      return new stat.PanelBuilder();
    case 'table':
      return new table.PanelBuilder();
    case 'barchart':
      return new barchart.PanelBuilder();
    case 'piechart':
      return new piechart.PanelBuilder();
  }
}

export const row = (title: string): dashboard.RowBuilder => new dashboard.RowBuilder(title);

/**
 * Posture thresholds: red below 50, orange below 70, yellow below 85, green above. The
 * first step is the base, which Grafana reads as -Infinity whatever its value; a number
 * rather than null, which Grafana 11's dashboard schema refuses.
 */
export const postureThresholds = (): dashboard.ThresholdsConfigBuilder =>
  new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { value: 0, color: 'red' },
    { value: 50, color: 'orange' },
    { value: 70, color: 'yellow' },
    { value: 85, color: 'green' },
  ]);
