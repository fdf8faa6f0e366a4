import { identifier, MAX_RAW_IDENTIFIER } from './attribute-read.ts';
import type { SpanAttributes } from './span-input.ts';

/**
 * Spellings that instrumentations and providers use for the same thing, mapped
 * onto one. Finish reasons use the GenAI conventions' values (`stop`, `length`,
 * `content_filter`, `tool_call`, `error`); a reason not listed is kept as sent.
 * Maps, not object literals: the keys come from the wire.
 */
const FINISH_REASONS = new Map<string, string>([
  // The model ended its answer.
  ['stop', 'stop'],
  ['end_turn', 'stop'], // Anthropic
  ['stop_sequence', 'stop'], // Anthropic
  ['complete', 'stop'],
  ['eos', 'stop'],
  ['end', 'stop'],
  ['finish_reason_stop', 'stop'],
  // A token limit cut the answer.
  ['length', 'length'],
  ['max_tokens', 'length'], // Anthropic, Gemini (MAX_TOKENS)
  ['max_output_tokens', 'length'],
  ['model_context_window_exceeded', 'length'], // Anthropic
  ['token_limit', 'length'],
  // The model asked for a tool.
  ['tool_call', 'tool_call'],
  ['tool_calls', 'tool_call'], // OpenAI
  ['tool_use', 'tool_call'], // Anthropic
  ['function_call', 'tool_call'], // OpenAI (legacy functions)
  // A filter withheld the answer.
  ['content_filter', 'content_filter'],
  ['content_filtered', 'content_filter'],
  ['refusal', 'content_filter'], // Anthropic
  ['safety', 'content_filter'], // Gemini
  ['recitation', 'content_filter'], // Gemini
  ['blocklist', 'content_filter'], // Gemini
  ['prohibited_content', 'content_filter'], // Gemini
  ['spii', 'content_filter'], // Gemini
  ['guardrail_intervened', 'content_filter'], // Bedrock
  ['error', 'error'],
]);

/** A finish reason in the GenAI conventions' spelling (case-insensitive); one not known is kept as sent. */
export function normaliseFinishReason(raw: string): string {
  const trimmed = raw.trim();
  return FINISH_REASONS.get(trimmed.toLowerCase()) ?? trimmed;
}

/**
 * Provider error codes (the `type` of an API error body) and HTTP statuses,
 * mapped onto the snake_case of the exception class the OpenAI and Anthropic
 * SDKs raise for them, so `api_error`, `500`, `InternalServerError` and
 * `<class 'openai.InternalServerError'>` all read `internal_server_error`.
 */
const ERROR_CODES = new Map<string, string>([
  ['api_error', 'internal_server_error'], // Anthropic 500
  ['server_error', 'internal_server_error'], // OpenAI 500
  ['invalid_request_error', 'bad_request_error'], // OpenAI and Anthropic 400
  ['authentication_error', 'authentication_error'],
  ['permission_error', 'permission_denied_error'], // Anthropic 403
  ['not_found_error', 'not_found_error'],
  ['request_too_large', 'request_too_large_error'], // Anthropic 413
  ['rate_limit_error', 'rate_limit_error'],
  ['rate_limit_exceeded', 'rate_limit_error'], // OpenAI error code
  ['insufficient_quota', 'rate_limit_error'], // OpenAI 429 code
  ['overloaded_error', 'overloaded_error'], // Anthropic 529
  ['timeout', 'api_timeout_error'],
  ['timeout_error', 'api_timeout_error'],
  ['400', 'bad_request_error'],
  ['401', 'authentication_error'],
  ['403', 'permission_denied_error'],
  ['404', 'not_found_error'],
  ['409', 'conflict_error'],
  ['413', 'request_too_large_error'],
  ['422', 'unprocessable_entity_error'],
  ['429', 'rate_limit_error'],
  ['529', 'overloaded_error'],
]);

/** `<class 'openai.InternalServerError'>` (Python's repr of a class). */
const PYTHON_CLASS = /^<class '([^']*)'>$/;
/** A (possibly dotted or `::`-qualified) class or code name, nothing else: free text is kept as sent. */
const QUALIFIED_NAME = /^[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*$/;

/**
 * One spelling of an error type: the final segment of a qualified class name
 * (`openai.InternalServerError`, Python's `<class '…'>` repr) in snake_case
 * (`internal_server_error`), provider codes and HTTP statuses as the class
 * their SDKs raise for them (ERROR_CODES), 5xx as `internal_server_error`.
 * `_OTHER` (the conventions' unknown class) and anything that is not a name
 * (free text, which redaction may still need to see whole) are kept as sent.
 */
export function normaliseErrorType(raw: string): string {
  const trimmed = raw.trim();
  if (trimmed === '_OTHER') return trimmed;
  const name = PYTHON_CLASS.exec(trimmed)?.[1] ?? trimmed;
  if (/^5\d\d$/.test(name)) return ERROR_CODES.get(name) ?? 'internal_server_error';
  const known = ERROR_CODES.get(name.toLowerCase());
  if (known !== undefined) return known;
  if (!QUALIFIED_NAME.test(name)) return trimmed;
  const last = name.split(/\.|::/).at(-1) ?? name;
  const snake = snakeCase(last);
  return ERROR_CODES.get(snake) ?? snake;
}

/** `InternalServerError` → `internal_server_error`, `APIStatusError` → `api_status_error`, `HTTPError` → `http_error`. */
function snakeCase(name: string): string {
  return name
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .replace(/[-\s]+/g, '_')
    .toLowerCase();
}

/** A span attribute holding a JSON object (OpenInference's invocation parameters, output.value), parsed; else null. */
export function jsonObject(attributes: SpanAttributes, key: string): Record<string, unknown> | null {
  const value = attributes.get(key);
  if (typeof value !== 'string' || !value.trimStart().startsWith('{')) return null;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function textField(object: Record<string, unknown> | null, key: string): string | null {
  const value = object !== null && Object.hasOwn(object, key) ? object[key] : undefined;
  return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, MAX_RAW_IDENTIFIER) : null;
}

const INVOCATION_PARAMETERS = ['llm.invocation_parameters', 'embedding.invocation_parameters'];

/** A field of OpenInference's invocation parameters (the request's own parameters, as JSON). */
export function invocationParameter(attributes: SpanAttributes, field: string): string | null {
  for (const key of INVOCATION_PARAMETERS) {
    const value = textField(jsonObject(attributes, key), field);
    if (value !== null) return value;
  }
  return null;
}

/**
 * The provider's id of the response: `gen_ai.response.id` (GenAI, OpenLLMetry,
 * the Anthropic SDK), `llm.response.id`, else the `id` of the response body
 * OpenInference records as JSON in `output.value` (it has no attribute of its own).
 */
export function responseId(attributes: SpanAttributes): string | null {
  const declared = identifier(attributes, 'gen_ai.response.id', 'llm.response.id');
  if (declared !== null) return declared;
  const mime = identifier(attributes, 'output.mime_type');
  if (mime !== null && mime !== 'application/json') return null;
  const output = attributes.get('output.value');
  if (typeof output !== 'string') return null;
  // SDK response models serialise `id` first: read it without parsing a body that may be a megabyte.
  const leading = LEADING_ID.exec(output);
  if (leading !== null) return leading[1]!;
  return output.length <= MAX_PARSED_OUTPUT ? textField(jsonObject(attributes, 'output.value'), 'id') : null;
}

const LEADING_ID = /^\s*\{\s*"id"\s*:\s*"([^"\\]{1,256})"/;
const MAX_PARSED_OUTPUT = 65_536;

/**
 * The host a call went to, as `host` or `host:port` (a port that is not 80 or
 * 443), an IPv6 address in brackets; never a path, query or credentials. From
 * `server.address` (+ `server.port`), else `url.full` (the Anthropic SDK's
 * spans), `gen_ai.openai.api_base` (OpenLLMetry), or a base URL in
 * OpenInference's invocation parameters. The host keeps the sender's case:
 * spanToEvent lowercases it only after redaction has seen it as sent (a
 * lowercased secret would no longer match its pattern).
 */
export function destination(attributes: SpanAttributes): string | null {
  const address = identifier(attributes, 'server.address', 'net.peer.name');
  if (address !== null) {
    if (address.includes('://')) return hostOfUrl(address);
    return hostAndPort(address, identifier(attributes, 'server.port', 'net.peer.port'));
  }
  for (const key of ['url.full', 'http.url', 'gen_ai.openai.api_base', 'llm.base_url']) {
    const url = identifier(attributes, key);
    const host = url === null ? null : hostOfUrl(url);
    if (host !== null) return host;
  }
  for (const field of ['base_url', 'api_base', 'endpoint', 'azure_endpoint']) {
    const url = invocationParameter(attributes, field);
    const host = url === null ? null : hostOfUrl(url);
    if (host !== null) return host;
  }
  return null;
}

/** scheme://[userinfo@]host[:port][/?#...]: a URL without a scheme is not read (it may be any text). */
const URL_AUTHORITY = /^[a-z][a-z\d+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]/?#]*\]|[^:/?#@]*)(?::(\d*))?(?:[/?#]|$)/i;

function hostOfUrl(text: string): string | null {
  const match = URL_AUTHORITY.exec(text.trim());
  if (match === null) return null;
  return hostAndPort(match[1]!, match[2] === undefined || match[2] === '' ? null : match[2]);
}

/** A host name, IPv4 or IPv6 address: letters, digits, dots, hyphens, underscores, colons (IPv6), %zone. */
const HOST = /^[\w.%-]+$|^[\da-f:.%\w-]*:[\da-f:.%\w-]*$/i;

function hostAndPort(rawHost: string, rawPort: string | null): string | null {
  let host = rawHost.trim();
  let port = rawPort;
  // Credentials never belong in a destination (`user:pass@host`).
  host = host.slice(host.lastIndexOf('@') + 1);
  const hostPort = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(host);
  if (hostPort !== null) [host, port] = [hostPort[1]!, port ?? hostPort[2]!];
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '' || !HOST.test(host)) return null;
  const bracketed = host.includes(':') ? `[${host}]` : host;
  const number = port === null ? null : Number(port);
  const keepPort =
    number !== null && Number.isInteger(number) && number > 0 && number < 65_536 && number !== 80 && number !== 443;
  return keepPort ? `${bracketed}:${number}` : bracketed;
}
