import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceRef } from './clickhouse.ts';

/**
 * The template variables every aispm dashboard has: tenant, app and agent, each a
 * multi-value query variable with All. Panels filter with the plugin's
 * `$__conditionalAll(cond, $var)`, which becomes 1=1 when All is selected, so All
 * never expands into a long IN list.
 */

/** `$__conditionalAll` filters on the three variables, for a table with columns tenant, app and agent. */
export const TENANT = '$__conditionalAll(tenant IN (${tenant}), $tenant)';
export const APP = '$__conditionalAll(app IN (${app}), $app)';
export const AGENT = '$__conditionalAll(agent IN (${agent}), $agent)';

/** The variable definitions: name, label and the query that lists its values. */
export const VARIABLES = [
  {
    name: 'tenant',
    label: 'Tenant',
    sql: 'SELECT DISTINCT tenant FROM assets ORDER BY tenant',
  },
  {
    name: 'app',
    label: 'App',
    sql: `SELECT DISTINCT name FROM assets WHERE kind = 'app' AND ${TENANT} ORDER BY name`,
  },
  {
    name: 'agent',
    label: 'Agent',
    sql: `SELECT DISTINCT name FROM assets WHERE kind = 'agent' AND ${TENANT} ORDER BY name`,
  },
] as const;

export function variables(): dashboard.QueryVariableBuilder[] {
  return VARIABLES.map((v) =>
    new dashboard.QueryVariableBuilder(v.name)
      .label(v.label)
      .datasource(datasourceRef)
      // A plain SQL string: the plugin's variable support reads it as rawSql (its "legacy" form), and it is
      // what Grafana's dashboard schema allows (an object query there must be a map of objects).
      .query(v.sql)
      .definition(v.sql)
      .multi(true)
      .includeAll(true)
      .current({ text: 'All', value: '$__all' })
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc),
  );
}
