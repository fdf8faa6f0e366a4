import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertIdentifier, singleStatement, splitStatements } from './sql-text.ts';

const texts = (sql: string): string[] => splitStatements(sql).map((s) => s.text);

describe('splitStatements', () => {
  it('splits at ; and reports the line each statement starts on', () => {
    expect(splitStatements('CREATE TABLE a (x UInt8);\n\n  INSERT INTO a VALUES (1);\nSELECT 1')).toEqual([
      { text: 'CREATE TABLE a (x UInt8)', line: 1 },
      { text: 'INSERT INTO a VALUES (1)', line: 3 },
      { text: 'SELECT 1', line: 4 },
    ]);
  });

  it('does not split inside strings, quoted identifiers, comments or heredocs', () => {
    const sql = [
      "SELECT 'a;b', 'it''s;', 'esc\\';', \"q;\", `b;t`;",
      '-- a comment; still a comment',
      '# hash comment;',
      '/* block; /* nested; */ still; */ SELECT $$he;re$$, $tag$x;$tag$;',
      'SELECT 1 -- trailing; comment',
    ].join('\n');
    expect(texts(sql)).toEqual([
      "SELECT 'a;b', 'it''s;', 'esc\\';', \"q;\", `b;t`",
      '-- a comment; still a comment\n# hash comment;\n/* block; /* nested; */ still; */ SELECT $$he;re$$, $tag$x;$tag$',
      'SELECT 1 -- trailing; comment',
    ]);
  });

  it('drops pieces that hold only whitespace and comments', () => {
    expect(texts(';; -- nothing\n /* here */ ;\n')).toEqual([]);
  });

  it('lets an unterminated literal run to the end, for the engine to report', () => {
    expect(texts("SELECT 'open; SELECT 2")).toEqual(["SELECT 'open; SELECT 2"]);
  });

  it('gives back statements joined with ;', () => {
    const literal = fc.string().map((s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`);
    const statement = fc.array(literal, { minLength: 1, maxLength: 3 }).map((parts) => `SELECT ${parts.join(', ')}`);
    fc.assert(
      fc.property(fc.array(statement, { minLength: 1, maxLength: 5 }), (statements) => {
        expect(texts(statements.join(';\n') + ';\n')).toEqual(statements);
      }),
    );
  });
});

describe('singleStatement', () => {
  it('drops a trailing ; and refuses none or several', () => {
    expect(singleStatement('SELECT 1;  -- done\n')).toBe('SELECT 1');
    expect(() => singleStatement('-- nothing')).toThrow(expect.objectContaining({ code: 'store_empty_statement' }));
    expect(() => singleStatement('SELECT 1; SELECT 2')).toThrow(
      expect.objectContaining({ code: 'store_many_statements' }),
    );
  });
});

describe('assertIdentifier', () => {
  it('accepts plain names and database.table, and refuses anything else', () => {
    expect(assertIdentifier('table', 'aispm.events')).toBe('aispm.events');
    expect(() => assertIdentifier('database', 'a.b')).toThrow(
      expect.objectContaining({ code: 'store_bad_identifier' }),
    );
    for (const bad of ['', '1x', 'x y', 'x;DROP', '`x`', 'a.b.c']) {
      expect(() => assertIdentifier('table', bad)).toThrow(expect.objectContaining({ code: 'store_bad_identifier' }));
    }
  });
});
