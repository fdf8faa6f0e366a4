import { StoreError } from './store-error.ts';
import type { AvroColumns } from './store.ts';

/** One statement of a SQL text and the line it starts on (1-based), for error messages. */
export interface Statement {
  text: string;
  line: number;
}

const IDENTIFIER_CHAR = /[A-Za-z0-9_]/;
const HEREDOC_TAG = /\$([A-Za-z_][A-Za-z0-9_]*)?\$/y;

/**
 * Splits SQL text at top-level `;`. A `;` inside a string literal, a quoted
 * identifier, a comment (`--`, `# `, `/* *\/`, nested as ClickHouse allows) or a
 * heredoc (`$tag$…$tag$`) does not split. Pieces holding only whitespace and
 * comments are dropped, so a trailing `;` or a closing comment adds no statement.
 * An unterminated literal or comment runs to the end of the text; the engine then
 * reports it with its own message.
 */
export function splitStatements(sql: string): Statement[] {
  const statements: Statement[] = [];
  let start = 0;
  let significant = false;
  let i = 0;
  const push = (end: number): void => {
    if (significant)
      statements.push({ text: sql.slice(start, end).trim(), line: lineOf(sql, firstCodeAt(sql, start)) });
    start = end + 1;
    significant = false;
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === ';') {
      push(i);
      i += 1;
    } else if (c === '-' && next === '-') {
      i = endOfLine(sql, i);
    } else if (c === '#' && (next === ' ' || next === '!')) {
      i = endOfLine(sql, i);
    } else if (c === '/' && next === '*') {
      i = endOfBlockComment(sql, i);
    } else if (c === "'" || c === '"' || c === '`') {
      significant = true;
      i = endOfQuoted(sql, i, c);
    } else if (c === '$' && !IDENTIFIER_CHAR.test(sql[i - 1] ?? '')) {
      significant = true;
      i = endOfHeredoc(sql, i);
    } else {
      if (c !== undefined && !/\s/.test(c)) significant = true;
      i += 1;
    }
  }
  push(sql.length);
  return statements;
}

/** The one statement of `sql`, without a trailing `;`; refuses none or several (a ClickHouse server runs one per request). */
export function singleStatement(sql: string): string {
  const statements = splitStatements(sql);
  const [first] = statements;
  if (first === undefined) {
    throw new StoreError('store_empty_statement', 'the SQL text holds no statement (only whitespace or comments)');
  }
  if (statements.length > 1) {
    throw new StoreError(
      'store_many_statements',
      `the SQL text holds ${statements.length} statements; send one per call (a ClickHouse server runs one per request)`,
    );
  }
  return first.text;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `text` as a ClickHouse string literal. */
export const stringLiteral = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Settings of Avro inserts. The tables they fill are ReplacingMergeTree, which
 * de-duplicate within each insert by default; theirs need not (a replay comes in a
 * later insert, and readers count with FINAL), and skipping it saves about a quarter
 * of the engine's CPU for an insert of events.
 */
export const AVRO_INSERT_SETTINGS = { optimize_on_insert: 0 } as const;

/**
 * The INSERT … SELECT that computes `table`'s columns from Avro records, which
 * `source` reads (a table function, given the structure as a string literal).
 */
export function avroInsertStatement(
  table: string,
  mapping: AvroColumns,
  source: (structure: string) => string,
): string {
  assertIdentifier('table', table);
  const columns = Object.keys(mapping.columns);
  const bad = columns.find((column) => !NAME.test(column));
  if (bad !== undefined)
    throw new StoreError('store_bad_identifier', `column name ${JSON.stringify(bad)} is not a plain identifier`);
  const select = Object.values(mapping.columns).join(', ');
  return `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${select} FROM ${source(stringLiteral(mapping.structure))}`;
}

/** A name SQL takes unquoted: letters, digits and _, not starting with a digit. */
export const isPlainIdentifier = (name: string): boolean => NAME.test(name);

/** Checks a database or (optionally database-qualified) table name, which is interpolated into SQL and so must be a plain identifier. */
export function assertIdentifier(what: 'database' | 'table', name: string): string {
  const parts = name.split('.');
  const ok = parts.length <= (what === 'table' ? 2 : 1) && parts.every((p) => NAME.test(p));
  if (!ok) {
    throw new StoreError(
      'store_bad_identifier',
      `${what} name ${JSON.stringify(name)} is not a plain identifier; use letters, digits and _ (not starting with a digit)${
        what === 'table' ? ', optionally as database.table' : ''
      }`,
    );
  }
  return name;
}

function endOfLine(sql: string, from: number): number {
  const nl = sql.indexOf('\n', from);
  return nl === -1 ? sql.length : nl + 1;
}

function endOfBlockComment(sql: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < sql.length) {
    if (sql.startsWith('/*', i)) {
      depth += 1;
      i += 2;
    } else if (sql.startsWith('*/', i)) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return sql.length;
}

/** Quoted text ends at an unescaped closing quote; a backslash escapes the next character and a doubled quote stands for one. */
function endOfQuoted(sql: string, from: number, quote: string): number {
  let i = from + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (c === '\\') {
      i += 2;
    } else if (c === quote) {
      if (sql[i + 1] !== quote) return i + 1;
      i += 2;
    } else {
      i += 1;
    }
  }
  return sql.length;
}

function endOfHeredoc(sql: string, from: number): number {
  HEREDOC_TAG.lastIndex = from;
  const open = HEREDOC_TAG.exec(sql);
  if (open === null) return from + 1;
  const close = sql.indexOf(open[0], from + open[0].length);
  return close === -1 ? sql.length : close + open[0].length;
}

/** Where the statement's first non-blank character is, so its line number skips blank lines before it. */
function firstCodeAt(sql: string, from: number): number {
  const m = /\S/.exec(sql.slice(from));
  return m === null ? from : from + m.index;
}

function lineOf(sql: string, index: number): number {
  let line = 1;
  for (let i = sql.indexOf('\n'); i !== -1 && i < index; i = sql.indexOf('\n', i + 1)) line += 1;
  return line;
}
