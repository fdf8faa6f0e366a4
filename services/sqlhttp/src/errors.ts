/**
 * Errors answered the way a ClickHouse server answers them: the body is
 * `Code: N. DB::Exception: <message>. (NAME) (version V)`, the header
 * X-ClickHouse-Exception-Code carries N, and the HTTP status follows the
 * server's own mapping from code to status (exceptionCodeToHTTPStatus.cpp).
 */

/** ClickHouse's error codes this endpoint answers with itself (the engine's own pass through). */
export const CODES = {
  UNSUPPORTED_METHOD: 1,
  BAD_ARGUMENTS: 36,
  SYNTAX_ERROR: 62,
  UNKNOWN_FORMAT: 73,
  UNKNOWN_DATABASE: 81,
  UNKNOWN_SETTING: 115,
  TIMEOUT_EXCEEDED: 159,
  READONLY: 164,
  TOO_MANY_SIMULTANEOUS_QUERIES: 202,
  QUERY_IS_TOO_LARGE: 229,
  CANNOT_DECOMPRESS: 271,
  ACCESS_DENIED: 497,
  AUTHENTICATION_FAILED: 516,
} as const;

/** Error names by code: CODES, completed at start-up with the engine's own table (errorCodeToName). */
const names = new Map<number, string>(Object.entries(CODES).map(([name, code]) => [code, name]));

/** Adds the engine's code → name table (SELECT number, errorCodeToName(number) …). */
export function learnErrorNames(table: Iterable<readonly [number, string]>): void {
  for (const [code, name] of table) if (name !== '') names.set(code, name);
}

/** The name of an error code, e.g. 164 → READONLY. */
export const errorName = (code: number): string => names.get(code) ?? 'UNKNOWN_EXCEPTION';

/** Status by error name, as a ClickHouse server maps them (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp). */
const STATUS_BY_NAME: Record<string, number> = {
  REQUIRED_PASSWORD: 401,
  ...Object.fromEntries(
    ['UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED'].map((n) => [
      n,
      403,
    ]),
  ),
  ...Object.fromEntries(
    [
      'BAD_ARGUMENTS',
      'CANNOT_COMPILE_REGEXP',
      'CANNOT_PARSE_TEXT',
      'CANNOT_PARSE_ESCAPE_SEQUENCE',
      'CANNOT_PARSE_QUOTED_STRING',
      'CANNOT_PARSE_DATE',
      'CANNOT_PARSE_DATETIME',
      'CANNOT_PARSE_NUMBER',
      'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING',
      'CANNOT_PARSE_IPV4',
      'CANNOT_PARSE_IPV6',
      'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
      'CANNOT_PARSE_UUID',
      'DUPLICATE_COLUMN',
      'ILLEGAL_COLUMN',
      'UNKNOWN_ELEMENT_IN_AST',
      'UNKNOWN_TYPE_OF_AST_NODE',
      'THERE_IS_NO_COLUMN',
      'TOO_DEEP_AST',
      'TOO_BIG_AST',
      'UNEXPECTED_AST_STRUCTURE',
      'SYNTAX_ERROR',
      'INCORRECT_DATA',
      'TYPE_MISMATCH',
      'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
    ].map((n) => [n, 400]),
  ),
  ...Object.fromEntries(
    [
      'UNKNOWN_TABLE',
      'UNKNOWN_FUNCTION',
      'UNKNOWN_IDENTIFIER',
      'UNKNOWN_TYPE',
      'UNKNOWN_STORAGE',
      'UNKNOWN_DATABASE',
      'UNKNOWN_SETTING',
      'UNKNOWN_DIRECTION_OF_SORTING',
      'UNKNOWN_AGGREGATE_FUNCTION',
      'UNKNOWN_FORMAT',
      'UNKNOWN_DATABASE_ENGINE',
      'UNKNOWN_TYPE_OF_QUERY',
      'UNKNOWN_ROLE',
    ].map((n) => [n, 404]),
  ),
  QUERY_IS_TOO_LARGE: 413,
  NOT_IMPLEMENTED: 501,
  SOCKET_TIMEOUT: 503,
  CANNOT_OPEN_FILE: 503,
  HTTP_LENGTH_REQUIRED: 411,
  TIMEOUT_EXCEEDED: 408,
  CANNOT_SCHEDULE_TASK: 503,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

/** The HTTP status a ClickHouse server answers an exception code with (500 for the rest). */
export const httpStatusOf = (code: number): number => STATUS_BY_NAME[errorName(code)] ?? 500;

/** An answer in ClickHouse's exception format. */
export class ClickHouseHttpError extends Error {
  readonly code: number;
  readonly status: number;
  /** The body as sent, without the version suffix. */
  readonly text: string;

  constructor(code: number, text: string) {
    super(text);
    this.name = 'ClickHouseHttpError';
    this.code = code;
    this.status = httpStatusOf(code);
    this.text = text;
  }
}

/** A new exception with ClickHouse's wording: `Code: N. DB::Exception: message. (NAME)`. */
export function exception(code: number, message: string): ClickHouseHttpError {
  return new ClickHouseHttpError(code, `Code: ${code}. DB::Exception: ${message}. (${errorName(code)})`);
}

/**
 * The engine's own exception text, as the server would send it. A statement this
 * endpoint wrapped (formatQuery, EXPLAIN AST) is cut from the message, so the
 * client sees its own query only.
 */
export function engineException(code: number, message: string): ClickHouseHttpError {
  let text = message.trim();
  text = text.replace(/:? In scope SELECT formatQuery\([\s\S]*\. \(([A-Z_]+)\)$/, ' ($1)');
  if (!text.startsWith('Code: ')) text = `Code: ${code}. DB::Exception: ${text}`;
  return new ClickHouseHttpError(code, text);
}
