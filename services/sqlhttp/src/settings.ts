import { CODES, type ClickHouseHttpError, exception } from './errors.ts';

/** URL parameters that are part of the HTTP interface, not settings. */
const INTERFACE_PARAMS = new Set([
  'query',
  'database',
  'default_format',
  'user',
  'password',
  'query_id',
  'session_id',
  'session_timeout',
  'session_check',
  'quota_key',
  'enable_http_compression',
  'http_zlib_compression_level',
  'client_protocol_version',
  'buffer_size',
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'cancel_http_readonly_queries_on_client_close',
  'http_response_buffer_size',
  'compress',
  'decompress',
  'role',
  'extremes_mode',
]);

/**
 * Settings a tenant may give as URL parameters: how the result is written and
 * limited. Nothing that reads or writes files (format_schema, output_format_schema,
 * format_template_*), changes the parser (dialect) or the table filters.
 */
const CHANGEABLE = new Set([
  'date_time_output_format',
  'max_result_rows',
  'max_result_bytes',
  'result_overflow_mode',
  'extremes',
  'max_execution_time',
  'max_block_size',
  'session_timezone',
  'join_use_nulls',
  'max_rows_to_read',
  'max_bytes_to_read',
  'read_overflow_mode',
  'limit',
  'offset',
  'format_csv_delimiter',
  'format_tsv_null_representation',
  'format_csv_null_representation',
  'date_time_input_format',
  'interval_output_format',
  'bool_true_representation',
  'bool_false_representation',
]);
const CHANGEABLE_PREFIX =
  /^output_format_(json|pretty|csv|tsv|native|binary|arrow|parquet|orc|decimal|write_statistics|markdown|sql_insert|values|xml)_/;
const NEVER = new Set(['output_format_schema']);

/** Whether a tenant may set `name` as a URL parameter. */
export const isChangeable = (name: string): boolean =>
  !NEVER.has(name) && (CHANGEABLE.has(name) || CHANGEABLE_PREFIX.test(name));

/** The query's URL parameters, sorted out. */
export interface RequestParams {
  params: Record<string, string>;
  settings: Record<string, string>;
  interface: Map<string, string>;
}

/**
 * Sorts URL parameters into query parameters (`param_*`), the interface's own and
 * settings. A setting the engine does not know is refused (UNKNOWN_SETTING, as a
 * server would); one it knows that a tenant may not change is left out, not
 * applied: clients send such settings unasked (clickhouse-connect reads
 * system.settings, where the readonly=2 connection shows them changeable).
 */
export function sortParams(search: URLSearchParams, known: ReadonlySet<string>): RequestParams | ClickHouseHttpError {
  const out: RequestParams = { params: {}, settings: {}, interface: new Map() };
  for (const [name, value] of search) {
    if (name.startsWith('param_')) out.params[name.slice('param_'.length)] = value;
    else if (INTERFACE_PARAMS.has(name)) out.interface.set(name, value);
    else if (name === 'readonly') {
      if (value !== '1' && value !== '2') {
        return exception(CODES.READONLY, `Cannot modify 'readonly' setting in readonly mode`);
      }
    } else if (!known.has(name)) return exception(CODES.UNKNOWN_SETTING, `Unknown setting '${name}'`);
    else if (isChangeable(name)) out.settings[name] = value;
  }
  return out;
}
