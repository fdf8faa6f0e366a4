import { wrapMessagesCreate } from './anthropic.ts';
import { obj, str } from './json.ts';
import { mcpServerUrl, wrapCallTool } from './mcp.ts';
import { wrapChatCreate, wrapResponsesCreate } from './openai.ts';
import type { ShimTracing } from './tracing.ts';

/** Marks a method the shim already wraps, so instrumenting twice (or instance after prototype) records one span. */
export const WRAPPED = Symbol.for('aispm.shim.wrapped');

type Method = (this: unknown, ...args: never[]) => unknown;

/**
 * The base URL of the client an SDK resource (`self`) belongs to: openai and anthropic keep it on the
 * client as `baseURL`; `client`, when known, is asked when the resource does not say.
 */
export function clientBaseUrl(self: unknown, client?: unknown): string | undefined {
  return str(obj(obj(self)._client).baseURL) ?? str(obj(client).baseURL);
}

/**
 * Instruments a client the app created, in place, and returns it: an `openai`
 * client (chat.completions.create, responses.create), an `@anthropic-ai/sdk`
 * client (messages.create), or an MCP `Client` (callTool). Anything else is
 * returned unchanged. Only these own methods are replaced; the client's type,
 * its other methods and what they return stay the SDK's.
 */
export function instrumentClient<T>(tracing: ShimTracing, client: T): T {
  const target = obj(client);
  const completions = obj(obj(target.chat).completions);
  const baseUrl = (self: unknown): string | undefined => clientBaseUrl(self, client);
  replace(completions, 'create', (m) => wrapChatCreate(tracing, m as never, baseUrl));
  replace(obj(target.responses), 'create', (m) => wrapResponsesCreate(tracing, m as never, baseUrl));
  replace(obj(target.messages), 'create', (m) => wrapMessagesCreate(tracing, m as never, baseUrl));
  if (typeof target.callTool === 'function' && typeof target.listTools === 'function') {
    replace(target, 'callTool', (m) => wrapCallTool(tracing, m as never, mcpServerUrl));
  }
  return client;
}

/** Replaces `holder[name]` with its wrapped form, once; the original stays reachable for unpatching. */
export function replace(holder: Record<string, unknown>, name: string, wrap: (original: Method) => Method): void {
  const original = holder[name];
  if (typeof original !== 'function' || (original as { [WRAPPED]?: unknown })[WRAPPED]) return;
  const wrapped = wrap(original as Method);
  Object.defineProperty(wrapped, WRAPPED, { value: original });
  holder[name] = wrapped;
}
