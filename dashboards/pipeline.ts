import { operatorDatasourceRef, sql as anySql, type ColumnKind } from './clickhouse.ts';
import { baseDashboard, finish, type BuiltDashboard } from './common.ts';
import { panel, type PanelQuery } from './panels.ts';

/**
 * Pipeline health over pipeline_stats (schemas/clickhouse/015_pipeline_stats.sql),
 * which the processor writes every AISPM_STATS_INTERVAL_S: no Prometheus needed.
 * The table holds no tenant data, so the dashboard has no tenant, app or agent
 * variable. Lag is on each stage's partition -1 row and is the consumer group's
 * (max over instances); counts are per interval (summed).
 */
const RANGE = '$__timeFilter(time)';
/** Every panel reads the operator's datasource: tenant read keys do not see pipeline_stats. */
const sql = (rawSql: string, columns: Record<string, ColumnKind>) =>
  anySql(rawSql, columns).datasource(operatorDatasourceRef);
const PARTITIONS = `${RANGE} AND partition >= 0`;

export function pipelineDashboard(): BuiltDashboard {
  const q: PanelQuery[] = [];
  const uid = 'aispm-pipeline';
  const d = baseDashboard(
    uid,
    'aispm · Pipeline health',
    'The processor stages: consumer lag, throughput, dead letters and drops, batch time, trace attribution and merges (pipeline_stats).',
    ['pipeline', 'operations'],
  )
    // Operators' view of the whole pipeline: no tenant to choose.
    .variables([])
    .withPanel(
      panel(
        {
          kind: 'stat',
          title: 'Lag now',
          description: 'Records the stages have not committed yet, at the latest stats row of each stage.',
          w: 6,
          query: sql(
            `SELECT toUInt64(sum(latest)) AS lag_records FROM (
  SELECT stage, max(at_latest) AS latest FROM (
    SELECT stage, instance, argMax(lag, time) AS at_latest
    FROM pipeline_stats
    WHERE ${RANGE} AND partition = -1
    GROUP BY stage, instance
  )
  GROUP BY stage
)`,
            { lag_records: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Consumer lag',
          description: 'Records on each stage topic its consumer group has not committed (max over the interval).',
          w: 18,
          min: 0,
          query: sql(
            `SELECT $__timeInterval(time) AS t, stage, max(lag) AS lag_records
FROM pipeline_stats
WHERE ${RANGE} AND partition = -1
GROUP BY t, stage
ORDER BY t`,
            { t: 'time', stage: 'string', lag_records: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Throughput',
          description: 'Records taken off each stage topic, per second.',
          w: 12,
          unit: 'reqps',
          min: 0,
          query: sql(
            `SELECT $__timeInterval(time) AS t, stage, sum(records_in) / $__interval_s AS records_per_s
FROM pipeline_stats
WHERE ${PARTITIONS}
GROUP BY t, stage
ORDER BY t`,
            { t: 'time', stage: 'string', records_per_s: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Passed on',
          description:
            'What each stage passed on, per second: traces, events attributed; agents and entities, events stored; genai, rows.',
          w: 12,
          unit: 'reqps',
          min: 0,
          query: sql(
            `SELECT $__timeInterval(time) AS t, stage, sum(records_out) / $__interval_s AS out_per_s
FROM pipeline_stats
WHERE ${RANGE}
GROUP BY t, stage
ORDER BY t`,
            { t: 'time', stage: 'string', out_per_s: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Dead letters and drops',
          description:
            'Records sent to the dead-letter topic (with the reason in their headers), and records let go with neither an output nor a dead letter.',
          w: 12,
          min: 0,
          query: sql(
            `SELECT $__timeInterval(time) AS t, stage, sum(dead_letters) AS dead_lettered, sum(drops) AS dropped
FROM pipeline_stats
WHERE ${RANGE}
GROUP BY t, stage
ORDER BY t`,
            { t: 'time', stage: 'string', dead_lettered: 'number', dropped: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Batch time',
          description: 'Mean and slowest time a batch spends in its stage, from taking it to committing it.',
          w: 12,
          unit: 'ms',
          min: 0,
          query: sql(
            `SELECT $__timeInterval(time) AS t, stage, sum(batch_ms_sum) / greatest(sum(batches), 1) AS mean_ms,
  max(batch_ms_max) AS slowest_ms
FROM pipeline_stats
WHERE ${PARTITIONS}
GROUP BY t, stage
ORDER BY t`,
            { t: 'time', stage: 'string', mean_ms: 'number', slowest_ms: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Trace attribution and merges',
          description:
            'Events sent on by trace assembly by how their agent was found (their own span, an ancestor, none), and model calls reported twice merged into one.',
          w: 12,
          min: 0,
          query: sql(
            `SELECT $__timeInterval(time) AS t, sum(own) AS own_agent, sum(inherited) AS inherited_agent,
  sum(unattributed) AS no_agent, sum(merged) AS merged_calls
FROM pipeline_stats
WHERE ${RANGE} AND stage = 'traces'
GROUP BY t
ORDER BY t`,
            { t: 'time', own_agent: 'number', inherited_agent: 'number', no_agent: 'number', merged_calls: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Partitions',
          description:
            'Each stage partition over the range: what it took, passed on and lost, its batches, and who handled it last.',
          w: 12,
          query: sql(
            `SELECT stage, partition AS part, sum(records_in) AS taken, sum(records_out) AS passed_on,
  sum(dead_letters) AS dead_lettered, sum(drops) AS dropped, sum(batches) AS batch_count,
  round(sum(batch_ms_sum) / greatest(sum(batches), 1), 1) AS mean_batch_ms, max(time) AS last_batch,
  argMax(instance, time) AS last_instance
FROM pipeline_stats
WHERE ${PARTITIONS}
GROUP BY stage, part
ORDER BY stage, part
LIMIT 1000`,
            {
              stage: 'string',
              part: 'number',
              taken: 'number',
              passed_on: 'number',
              dead_lettered: 'number',
              dropped: 'number',
              batch_count: 'number',
              mean_batch_ms: 'number',
              last_batch: 'time',
              last_instance: 'string',
            },
          ),
        },
        q,
      ),
    );
  return finish(uid, d, q);
}
