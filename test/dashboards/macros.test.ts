import { describe, expect, it } from 'vitest';
import { applyConditionalAll, expandQuery, interpolate, type MacroContext } from '../../dashboards/index.ts';

/**
 * The expander against the ClickHouse plugin's own expectations: the cases of
 * pkg/macros/macros_test.go (grafana/clickhouse-datasource 4.20) and of
 * CHDatasource's applyConditionalAll and template formatting.
 */
const ctx = (over: Partial<MacroContext> = {}): MacroContext => ({
  from: new Date('2014-11-12T11:45:26.123Z'),
  to: new Date('2015-11-12T11:45:26.456Z'),
  intervalMs: 60_000,
  variables: [],
  ...over,
});

describe('backend macros, as pkg/macros expands them', () => {
  const cases: [string, string][] = [
    [
      'select * from foo where $__timeFilter(cast(sth as timestamp))',
      'select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= toDateTime(1447328726)',
    ],
    [
      'select * from foo where $__timeFilter(cast(sth as timestamp) )',
      'select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= toDateTime(1447328726)',
    ],
    [
      'select * from foo where $__timeFilter_ms(cast(sth as timestamp))',
      'select * from foo where cast(sth as timestamp) >= fromUnixTimestamp64Milli(1415792726123) AND cast(sth as timestamp) <= fromUnixTimestamp64Milli(1447328726456)',
    ],
    [
      'select * from foo where ( date >= $__fromTime and date <= $__toTime ) limit 100',
      'select * from foo where ( date >= toDateTime(1415792726) and date <= toDateTime(1447328726) ) limit 100',
    ],
    [
      'select * from foo where ( date >= $__fromTime_ms ) and ( date <= $__toTime_ms ) limit 100',
      'select * from foo where ( date >= fromUnixTimestamp64Milli(1415792726123) ) and ( date <= fromUnixTimestamp64Milli(1447328726456) ) limit 100',
    ],
    [
      'SELECT $__timeInterval($__fromTime) AS from_time',
      'SELECT toStartOfInterval(toDateTime(toDateTime(1415792726)), INTERVAL 60 second) AS from_time',
    ],
    [
      'SELECT $__timeInterval_ms($__fromTime_ms)',
      'SELECT toStartOfInterval(toDateTime64(fromUnixTimestamp64Milli(1415792726123), 3), INTERVAL 60000 millisecond)',
    ],
    [
      'select * from foo where $__timeFilter(coalesce(closed_at, $__toTime))',
      'select * from foo where coalesce(closed_at, toDateTime(1447328726)) >= toDateTime(1415792726) AND coalesce(closed_at, toDateTime(1447328726)) <= toDateTime(1447328726)',
    ],
    [
      "select * from foo where msg = 'it\\'s -- fine' and $__fromTime",
      "select * from foo where msg = 'it\\'s -- fine' and toDateTime(1415792726)",
    ],
    [
      "select * from foo where msg = 'it''s' and $__fromTime",
      "select * from foo where msg = 'it''s' and toDateTime(1415792726)",
    ],
    [
      "SELECT `it's` AS x, msg FROM t WHERE msg = 'a--b' AND $__timeFilter(ts)",
      "SELECT `it's` AS x, msg FROM t WHERE msg = 'a--b' AND ts >= toDateTime(1415792726) AND ts <= toDateTime(1447328726)",
    ],
    [
      'SELECT $doc$a--b$doc$ AS x FROM t WHERE $__toTime',
      'SELECT $doc$a--b$doc$ AS x FROM t WHERE toDateTime(1447328726)',
    ],
    ['SELECT $__dateFilter(d)', "SELECT d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')"],
    [
      'SELECT $__dateTimeFilter(d, t)',
      "SELECT (d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')) AND (t >= toDateTime(1415792726) AND t <= toDateTime(1447328726))",
    ],
    ['SELECT $__interval_s', 'SELECT 60'],
    ["SELECT $__timeGroup(ts, '5m')", 'SELECT toStartOfInterval(toDateTime(ts), INTERVAL 300 second)'],
    ['SELECT $__unknownMacro(x)', 'SELECT $__unknownMacro(x)'],
    ["SELECT '$__fromTime' -- $__toTime", "SELECT '$__fromTime' -- $__toTime"],
  ];
  it.each(cases)('%s', (input, output) => {
    expect(interpolate(input, ctx())).toBe(output);
  });

  it('keeps the interval at least one second', () => {
    expect(interpolate('$__interval_s $__timeInterval(t)', ctx({ intervalMs: 200 }))).toBe(
      '1 toStartOfInterval(toDateTime(t), INTERVAL 1 second)',
    );
  });

  it('refuses a macro with the wrong number of arguments, as the plugin does', () => {
    expect(() => interpolate('WHERE $__timeFilter()', ctx())).toThrow(/expected 1 argument/);
    expect(() => interpolate('WHERE $__timeFilter(a, b)', ctx())).toThrow(/expected 1 argument/);
  });
});

describe('template variables and $__conditionalAll, as CHDatasource applies them', () => {
  const vars = (current: string | string[]) => [{ name: 'app', current, options: ['a', 'b', 'c'] }];
  const query = 'WHERE $__conditionalAll(app IN (${app}), $app) AND x';

  it('All (single or multi-value) makes the condition 1=1', () => {
    expect(expandQuery(query, ctx({ variables: vars('$__all') }))).toBe('WHERE 1=1 AND x');
    expect(expandQuery(query, ctx({ variables: vars(['$__all']) }))).toBe('WHERE 1=1 AND x');
    expect(expandQuery(query, ctx({ variables: vars('') }))).toBe('WHERE 1=1 AND x');
  });

  it('a multi-value selection becomes a quoted list, a single value stays as written', () => {
    expect(expandQuery(query, ctx({ variables: vars(['a', 'b']) }))).toBe("WHERE app IN ('a','b') AND x");
    expect(expandQuery(query, ctx({ variables: vars(['a']) }))).toBe("WHERE app IN ('a') AND x");
    expect(expandQuery("app = '$app' OR app = '${app}' OR [[app]]", ctx({ variables: vars('b') }))).toBe(
      "app = 'b' OR app = 'b' OR b",
    );
  });

  it('All outside $__conditionalAll is every value, or the custom All value as written', () => {
    expect(expandQuery('app IN (${app})', ctx({ variables: vars(['$__all']) }))).toBe("app IN ('a','b','c')");
    const custom = [{ name: 'app', current: ['$__all'], options: ['a'], allValue: '.*' }];
    expect(expandQuery('match(app, $app)', ctx({ variables: custom }))).toBe('match(app, .*)');
  });

  it('named formats and the built-in interval variables', () => {
    expect(expandQuery('${app:csv} ${app:singlequote}', ctx({ variables: vars(['a', 'b']) }))).toBe("a,b 'a','b'");
    expect(expandQuery('$__interval $__interval_ms $__interval_s', ctx({ intervalMs: 300_000 }))).toBe('5m 300000 300');
  });

  it('nested $__conditionalAll calls, innermost last as the plugin does', () => {
    const nested = '$__conditionalAll(a IN (${app}) AND $__conditionalAll(b = 1, $app), $app)';
    expect(applyConditionalAll(nested, vars(['a']))).toBe('a IN (${app}) AND b = 1');
    expect(applyConditionalAll(nested, vars(['$__all']))).toBe('1=1');
  });
});
