/**
 * The expansion Grafana and its ClickHouse plugin (grafana/clickhouse-datasource
 * 4.20) apply to a panel's rawSql before ClickHouse sees it, in their order:
 *
 * 1. in the browser, `CHDatasource.applyTemplateVariables`: `$__conditionalAll(cond, $var)`
 *    becomes `1=1` when the variable is All or empty, else `cond` (applyConditionalAll);
 *    then Grafana's template service replaces `$var`, `${var}`, `${var:fmt}` and
 *    `[[var]]`, formatting a multi-value (and All's list of values) as `'a','b'`
 *    and a single value as itself (the plugin's `format`);
 * 2. in the plugin's Go backend, `macros.Interpolate` (macropro): `$__timeFilter`,
 *    `$__timeFilter_ms`, `$__dateFilter`, `$__dateTimeFilter`/`$__dt`, `$__timeInterval`,
 *    `$__timeInterval_ms`, `$__interval_s`, `$__fromTime`, `$__toTime`, `$__fromTime_ms`,
 *    `$__toTime_ms`, `$__timeFrom`, `$__timeTo`, `$__timeGroup`; macros inside string
 *    literals, quoted identifiers and comments are left alone; arguments are trimmed
 *    and may hold macros themselves. Unknown macros stay as written.
 */

export interface TemplateVariable {
  name: string;
  /** The selection: a value, several (multi-value), or '$__all'. */
  current: string | string[];
  /** Every value the variable offers (what All stands for). */
  options: string[];
  /** A custom All value, used as written. */
  allValue?: string;
}

export interface MacroContext {
  from: Date;
  to: Date;
  /** The query interval, ms (Grafana's $__interval_ms for the panel). */
  intervalMs: number;
  variables: TemplateVariable[];
}

const ALL = '$__all';

/** rawSql as the ClickHouse server receives it from the plugin. */
export function expandQuery(rawSql: string, ctx: MacroContext): string {
  let sql = applyConditionalAll(rawSql, ctx.variables);
  sql = replaceVariables(sql, ctx);
  return interpolate(sql, ctx);
}

// ---- browser side (src/data/CHDatasource.ts) ----

/** CHDatasource.applyConditionalAll, as written: innermost-last first, by lastIndexOf. */
export function applyConditionalAll(rawQuery: string, templateVars: TemplateVariable[]): string {
  if (!rawQuery) return rawQuery;
  const macro = '$__conditionalAll(';
  let macroIndex = rawQuery.lastIndexOf(macro);
  while (macroIndex !== -1) {
    const params = getMacroArgs(rawQuery, macroIndex + macro.length - 1);
    if (params.length !== 2) return rawQuery;
    const [cond, varParam] = params as [string, string];
    const templateVar = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(varParam.trim());
    let phrase = cond;
    if (templateVar) {
      const key = templateVars.find((x) => x.name === templateVar[0]);
      const value = key === undefined ? undefined : String(key.current);
      if (value === '' || value === ALL) phrase = '1=1';
    }
    rawQuery = rawQuery.replace(`${macro}${cond},${varParam})`, phrase);
    macroIndex = rawQuery.lastIndexOf(macro);
  }
  return rawQuery;
}

/** CHDatasource.getMacroArgs: the arguments of the call whose '(' is at argsIndex. */
function getMacroArgs(query: string, argsIndex: number): string[] {
  const args: string[] = [];
  const re = /\(|\)|,/g;
  let bracketCount = 0;
  let lastArgEndIndex = 1;
  let m: RegExpExecArray | null;
  const argsSubstr = query.substring(argsIndex, query.length);
  while ((m = re.exec(argsSubstr)) !== null) {
    const found = m[0];
    if (found === '(') bracketCount++;
    else if (found === ')') bracketCount--;
    if (found === ',' && bracketCount === 1) {
      args.push(argsSubstr.substring(lastArgEndIndex, re.lastIndex - 1));
      lastArgEndIndex = re.lastIndex;
    }
    if (bracketCount === 0) {
      args.push(argsSubstr.substring(lastArgEndIndex, re.lastIndex - 1));
      return args;
    }
  }
  return [];
}

/** Grafana's TemplateSrv variable syntax: $var, [[var:fmt]], ${var.path:fmt}. */
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

function replaceVariables(sql: string, ctx: MacroContext): string {
  const scoped: Record<string, string> = {
    __interval: intervalText(ctx.intervalMs),
    __interval_ms: String(ctx.intervalMs),
  };
  return sql.replace(
    VARIABLE,
    (match, v1?: string, v2?: string, f2?: string, v3?: string, _p?: string, f3?: string) => {
      const name = v1 ?? v2 ?? v3 ?? '';
      const fmt = f2 ?? f3;
      if (name in scoped) return scoped[name] ?? match;
      const variable = ctx.variables.find((v) => v.name === name);
      if (!variable) return match;
      const selected = Array.isArray(variable.current) ? variable.current : [variable.current];
      if (selected.includes(ALL)) {
        if (variable.allValue !== undefined) return variable.allValue;
        return formatValue(variable.options, fmt);
      }
      return formatValue(variable.current, fmt);
    },
  );
}

/** The plugin's format (arrays quoted and comma-joined, a single value as is), or Grafana's named formats. */
function formatValue(value: string | string[], fmt: string | undefined): string {
  const values = Array.isArray(value) ? value : [value];
  switch (fmt) {
    case undefined:
      return Array.isArray(value) ? `'${value.join("','")}'` : value;
    case 'raw':
    case 'csv':
      return values.join(',');
    case 'singlequote':
      return values.map((v) => `'${v.replaceAll("'", "\\'")}'`).join(',');
    case 'doublequote':
      return values.map((v) => `"${v.replaceAll('"', '\\"')}"`).join(',');
    default:
      throw new Error(`variable format ${fmt} is not supported by this expander`);
  }
}

/** Grafana's interval text for $__interval (rangeutil.secondsToHms for the common cases). */
function intervalText(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

// ---- plugin backend (pkg/macros/macros.go) ----

type Macro = (ctx: MacroContext, args: string[]) => string;

const unix = (d: Date): number => Math.floor(d.getTime() / 1000);
const toDateTime = (d: Date): string => `toDateTime(${unix(d)})`;
const toDateTime64 = (d: Date): string => `fromUnixTimestamp64Milli(${d.getTime()})`;
const toDate = (d: Date): string => `toDate('${d.toISOString().slice(0, 10)}')`;
const seconds = (ctx: MacroContext): number => Math.trunc(Math.max(ctx.intervalMs / 1000, 1));

function oneArg(name: string, f: (col: string, ctx: MacroContext) => string): Macro {
  return (ctx, args) => {
    if (args.length !== 1 || args[0] === '') {
      throw new Error(`$__${name} expected 1 argument(s), received ${args.length}`);
    }
    return f(args[0] as string, ctx);
  };
}

function dateTimeFilter(name: string): Macro {
  return (ctx, args) => {
    if (args.length !== 2) throw new Error(`$__${name} expected 2 argument(s), received ${args.length}`);
    const [d, t] = args as [string, string];
    return (
      `(${d} >= ${toDate(ctx.from)} AND ${d} <= ${toDate(ctx.to)}) AND ` +
      `(${t} >= ${toDateTime(ctx.from)} AND ${t} <= ${toDateTime(ctx.to)})`
    );
  };
}

/** Go duration strings as $__timeGroup takes them: 5m, 1h, 30s, 1h30m. */
function durationSeconds(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * (unit[m[2] as string] ?? 0);
    end = re.lastIndex;
  }
  if (end !== text.length || text === '') throw new Error(`$__timeGroup: invalid interval "${text}"`);
  return total;
}

export const MACROS: Record<string, Macro> = {
  timeFilter: oneArg('timeFilter', (c, x) => `${c} >= ${toDateTime(x.from)} AND ${c} <= ${toDateTime(x.to)}`),
  timeFilter_ms: oneArg('timeFilter_ms', (c, x) => `${c} >= ${toDateTime64(x.from)} AND ${c} <= ${toDateTime64(x.to)}`),
  dateFilter: oneArg('dateFilter', (c, x) => `${c} >= ${toDate(x.from)} AND ${c} <= ${toDate(x.to)}`),
  dateTimeFilter: dateTimeFilter('dateTimeFilter'),
  dt: dateTimeFilter('dt'),
  timeFrom: oneArg('timeFrom', (c, x) => `${c} >= ${toDateTime(x.from)}`),
  timeTo: oneArg('timeTo', (c, x) => `${c} <= ${toDateTime(x.to)}`),
  timeInterval: oneArg('timeInterval', (c, x) => `toStartOfInterval(toDateTime(${c}), INTERVAL ${seconds(x)} second)`),
  timeInterval_ms: oneArg(
    'timeInterval_ms',
    (c, x) => `toStartOfInterval(toDateTime64(${c}, 3), INTERVAL ${Math.trunc(Math.max(x.intervalMs, 1))} millisecond)`,
  ),
  timeGroup: (_ctx, args) => {
    if (args.length !== 2) throw new Error(`$__timeGroup expected 2 argument(s), received ${args.length}`);
    const col = (args[0] as string).trim();
    const secs = Math.round(durationSeconds((args[1] as string).trim().replace(/^['"]+|['"]+$/g, '')));
    if (secs <= 0) throw new Error('$__timeGroup: interval must be positive');
    return `toStartOfInterval(toDateTime(${col}), INTERVAL ${secs} second)`;
  },
  interval_s: (ctx) => String(seconds(ctx)),
  fromTime: (ctx) => toDateTime(ctx.from),
  toTime: (ctx) => toDateTime(ctx.to),
  fromTime_ms: (ctx) => toDateTime64(ctx.from),
  toTime_ms: (ctx) => toDateTime64(ctx.to),
};

/** macropro.Interpolate with the plugin's macros and comment/quote rules. */
export function interpolate(sql: string, ctx: MacroContext): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const skip = skipQuotedOrComment(sql, i);
    if (skip > i) {
      out += sql.slice(i, skip);
      i = skip;
      continue;
    }
    if (sql.startsWith('$__', i)) {
      const name = /^[A-Za-z0-9_]+/.exec(sql.slice(i + 3))?.[0] ?? '';
      const macro = MACROS[name];
      if (macro) {
        let end = i + 3 + name.length;
        let args: string[] = [];
        if (sql[end] === '(') {
          const close = matchingParen(sql, end);
          args = splitArgs(sql.slice(end + 1, close)).map((a) => interpolate(a, ctx).trim());
          if (args.length === 1 && args[0] === '') args = [];
          end = close + 1;
        }
        out += macro(ctx, args);
        i = end;
        continue;
      }
    }
    out += sql[i];
    i++;
  }
  return out;
}

/** If a string literal, quoted identifier or comment starts at i, the index after it; else i. */
function skipQuotedOrComment(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '`') {
    let j = i + 1;
    while (j < sql.length) {
      if (sql[j] === '\\') j += 2;
      else if (sql[j] === c) {
        if (sql[j + 1] === c) j += 2;
        else return j + 1;
      } else j++;
    }
    return sql.length;
  }
  if (sql.startsWith('--', i)) {
    const nl = sql.indexOf('\n', i);
    return nl === -1 ? sql.length : nl;
  }
  if (sql.startsWith('/*', i)) {
    const end = sql.indexOf('*/', i + 2);
    return end === -1 ? sql.length : end + 2;
  }
  if (c === '$' && !sql.startsWith('$__', i)) {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))?.[0];
    if (tag !== undefined) {
      const end = sql.indexOf(tag, i + tag.length);
      return end === -1 ? sql.length : end + tag.length;
    }
  }
  return i;
}

function matchingParen(sql: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < sql.length) {
    const skip = skipQuotedOrComment(sql, i);
    if (skip > i) {
      i = skip;
      continue;
    }
    if (sql[i] === '(') depth++;
    else if (sql[i] === ')' && --depth === 0) return i;
    i++;
  }
  throw new Error(`unbalanced parentheses after position ${open}`);
}

function splitArgs(text: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const skip = skipQuotedOrComment(text, i);
    if (skip > i) {
      i = skip;
      continue;
    }
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      args.push(text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  args.push(text.slice(start));
  return args;
}
