import type { QueryParams } from './store.ts';
import { StoreError } from './store-error.ts';

/**
 * Settings both stores pin, so the same SQL and rows behave alike on chdb and on
 * any server version. ClickHouse changed these defaults recently (64-bit integers
 * unquoted in JSON since 25.8, best-effort date parsing since 26.5), and a
 * server's timezone is its operator's choice.
 */
export const PINNED_SETTINGS = {
  /** UInt64/Int64 come back as JSON strings: a JS number would lose precision past 2^53. */
  output_format_json_quote_64bit_integers: 1,
  /** Strict 'YYYY-MM-DD hh:mm:ss[.ffffff]' or Unix time: a malformed time is an error, not a guess. */
  date_time_input_format: 'basic',
  /** Times without an explicit zone (parameters, now(), toDate(…)) are UTC everywhere. */
  session_timezone: 'UTC',
} as const;

/**
 * Query parameters with top-level values turned into the text both clients send
 * the same way: a Date as Unix seconds with milliseconds (what @clickhouse/client
 * sends; chdb would drop the milliseconds), a boolean as 1/0. Integers beyond 2^53
 * are refused, because they are already wrong.
 */
export function toBindable(params: QueryParams): QueryParams {
  const out: QueryParams = {};
  for (const [name, value] of Object.entries(params)) {
    if (value instanceof Date) {
      const ms = value.getTime();
      if (Number.isNaN(ms)) throw new StoreError('store_bad_param', `parameter ${name} is an invalid Date`);
      const seconds = Math.floor(ms / 1000);
      const millis = ms - seconds * 1000;
      out[name] = millis === 0 ? String(seconds) : `${seconds}.${String(millis).padStart(3, '0')}`;
    } else if (typeof value === 'boolean') {
      out[name] = value ? 1 : 0;
    } else if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
      throw new StoreError(
        'store_bad_param',
        `parameter ${name} is ${value}, beyond 2^53 where a JS number loses precision; pass it as a bigint or a string`,
      );
    } else {
      out[name] = value;
    }
  }
  return out;
}
