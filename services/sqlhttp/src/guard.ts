import { CODES, type ClickHouseHttpError, exception } from './errors.ts';

/**
 * What a tenant's query may name, checked on the engine's own parse of it
 * (EXPLAIN AST of the statement as formatQuery printed it, query parameters
 * substituted). The engine only parses here: nothing of the query runs before
 * this check passes.
 */
export interface GuardScope {
  /** The store's database: its tables are readable (filtered to the tenant's rows by additional_table_filters). */
  database: string;
  /** Every database the engine has, so `db.x` identifiers naming another one are refused. */
  databases: ReadonlySet<string>;
  /** Every table function's name, lower case: those not in ALLOWED_TABLE_FUNCTIONS are refused. */
  tableFunctions: ReadonlySet<string>;
}

/** System tables that hold no rows of any tenant: metadata, settings, and constant generators. */
export const ALLOWED_SYSTEM_TABLES: ReadonlySet<string> = new Set([
  'one',
  'numbers',
  'numbers_mt',
  'zeros',
  'zeros_mt',
  'databases',
  'tables',
  'columns',
  'settings',
  'functions',
  'formats',
  'table_functions',
  'data_type_families',
  'time_zones',
  'build_options',
  'collations',
  'aggregate_function_combinators',
  'table_engines',
  'keywords',
]);

/** Table functions that read nothing stored: generators and literal data. */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  'numbers',
  'numbers_mt',
  'zeros',
  'zeros_mt',
  'generate_series',
  'generateseries',
  'values',
  'format',
  'null',
  'generaterandom',
]);

/**
 * Scalar functions that read stored data or files by name (dictionaries, Join
 * tables, files, models, scalars of other queries), or list server internals.
 * Matched on the lower-case name.
 */
const DENIED_FUNCTION =
  /^(dict|joinget|file$|filesystem|catboost|naivebayes|__getscalar|__scalarsubqueryresult|hascolumnintable|getmaxtablenamelengthfordatabase|getclienthttpheader|getserversetting|getmergetreesetting)/;

/** One node of the engine's AST dump. */
interface Node {
  type: string;
  /** The text after the type: an identifier's name, a literal, a function's name. */
  label: string;
  children: Node[];
  declared: number;
}

/** A dump line: indentation, node type, optional label (after `(children N)` is cut off). */
const LINE = /^( *)([A-Za-z][A-Za-z0-9_]*)(?: +(.*))?$/;
const CHILDREN = / +\(children (\d+)\)$/;

/**
 * Parses `EXPLAIN AST` output into a tree. Refuses a dump whose shape does not
 * add up (a node's declared child count, one level of indentation per level), as
 * a name holding a line break would print: such a query is refused, never guessed at.
 */
export function parseAstDump(dump: string): Node | null {
  const lines = dump.replace(/\n+$/, '').split('\n');
  const stack: Node[] = [];
  let root: Node | null = null;
  for (const line of lines) {
    const children = CHILDREN.exec(line);
    const m = LINE.exec(children === null ? line : line.slice(0, children.index));
    if (m === null) return null;
    const depth = m[1]!.length;
    const declared = children === null ? 0 : Number(children[1]);
    const node: Node = { type: m[2]!, label: (m[3] ?? '').trim(), children: [], declared };
    if (depth === 0) {
      if (root !== null) return null;
      root = node;
    } else {
      if (depth > stack.length) return null;
      stack.length = depth;
      const parent = stack[depth - 1]!;
      parent.children.push(node);
      if (parent.children.length > parent.declared) return null;
    }
    stack[depth] = node;
  }
  if (root === null) return null;
  const complete = (node: Node): boolean =>
    node.children.length === node.declared && node.children.every((child) => complete(child));
  return complete(root) ? root : null;
}

/** What a checked query names: its FORMAT clause's output format (null for none), and the store's tables it may read. */
export interface Checked {
  format: string | null;
  /**
   * Names that may be tables of the store's database: table identifiers (plain or
   * in the store's database) and the right side of IN. Some are CTEs or columns;
   * a caller holding a cached schema reads it again when one is not among its tables.
   */
  tables: string[];
}

/** Checks a query's AST dump against the scope: what it may read, and that it is a plain SELECT. */
export function checkQuery(dump: string, scope: GuardScope): Checked | ClickHouseHttpError {
  const root = parseAstDump(dump);
  if (root === null) {
    return exception(CODES.SYNTAX_ERROR, 'the query holds names this endpoint cannot check (a line break in a name?)');
  }
  if (root.type !== 'SelectWithUnionQuery') {
    return exception(
      CODES.READONLY,
      `Cannot execute query in readonly mode: this endpoint runs SELECT queries only, not ${root.type.replace(/Query$/, '')}`,
    );
  }
  let format: string | null = null;
  for (const [index, child] of root.children.entries()) {
    if (index === 0 && child.type === 'ExpressionList') continue;
    if (child.type === 'Identifier' && format === null) {
      format = child.label;
      continue;
    }
    if (child.type === 'Set') return settingsRefused();
    return exception(
      CODES.ACCESS_DENIED,
      'INTO OUTFILE and COMPRESSION are not allowed: the result goes to the client',
    );
  }
  const tables = new Set<string>();
  const problem = visit(root, scope, tables);
  return problem ?? { format, tables: [...tables] };
}

function settingsRefused(): ClickHouseHttpError {
  return exception(
    CODES.READONLY,
    'Cannot modify settings in readonly mode: a SETTINGS clause is not allowed; give settings as URL parameters',
  );
}

function visit(node: Node, scope: GuardScope, tables: Set<string>): ClickHouseHttpError | null {
  const problem = checkNode(node, scope, tables);
  if (problem !== null) return problem;
  for (const child of node.children) {
    const found = visit(child, scope, tables);
    if (found !== null) return found;
  }
  return null;
}

/** A name without the ` (alias x)` the dump prints after an aliased one: only what is before it can name a table. */
const unaliased = (label: string): string => {
  const at = label.indexOf(' (alias ');
  return at < 0 ? label : label.slice(0, at);
};

/** The store table a name may read (a plain name, or one in the store's database), or null. */
function storeTable(name: string, scope: GuardScope): string | null {
  const parts = name.split('.');
  if (parts.length === 1) return parts[0]!;
  return parts.length === 2 && parts[0] === scope.database ? parts[1]! : null;
}

/** Functions whose right side may name a table: `x IN t`. */
const IN_FUNCTION = /^(global)?(not)?(null)?in$/i;

function checkNode(node: Node, scope: GuardScope, tables: Set<string>): ClickHouseHttpError | null {
  switch (node.type) {
    case 'Set':
      return settingsRefused();
    case 'TableIdentifier': {
      const name = unaliased(node.label);
      if (!tableAllowed(name.split('.'), scope)) {
        return exception(
          CODES.ACCESS_DENIED,
          `Not enough privileges to read ${name}: only ${scope.database}.* and some system tables are served`,
        );
      }
      const table = storeTable(name, scope);
      if (table !== null) tables.add(table);
      return null;
    }
    case 'Identifier': {
      const parts = unaliased(node.label).split('.');
      if (parts.length === 2 && parts[0] === scope.database) tables.add(parts[1]!);
      if (parts.length < 2 || !scope.databases.has(parts[0]!) || tableAllowed(parts.slice(0, 2), scope)) return null;
      return exception(
        CODES.ACCESS_DENIED,
        `Not enough privileges to read ${node.label}: only ${scope.database}.* and some system tables are served`,
      );
    }
    case 'Function': {
      const name = unaliased(node.label).toLowerCase();
      if (IN_FUNCTION.test(name)) {
        const right = node.children[0]?.children[1];
        if (right?.type === 'Identifier') {
          const table = storeTable(unaliased(right.label), scope);
          if (table !== null) tables.add(table);
        }
      }
      if (scope.tableFunctions.has(name) && !ALLOWED_TABLE_FUNCTIONS.has(name)) {
        return exception(CODES.ACCESS_DENIED, `Not enough privileges to use the table function ${node.label} here`);
      }
      if (DENIED_FUNCTION.test(name)) {
        return exception(CODES.ACCESS_DENIED, `Not enough privileges to use the function ${node.label} here`);
      }
      return null;
    }
    default:
      return null;
  }
}

/** An unqualified table is one of the store database's (the current one) or a CTE: plain names only, never a path. */
const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;

function tableAllowed(parts: readonly string[], scope: GuardScope): boolean {
  if (parts.length === 1) return PLAIN.test(parts[0]!);
  if (parts.length !== 2) return false;
  const [database, table] = parts as [string, string];
  if (database === scope.database) return true;
  return database === 'system' && ALLOWED_SYSTEM_TABLES.has(table);
}
