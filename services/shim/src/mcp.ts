import { GEN_AI } from './attributes.ts';
import { obj, str } from './json.ts';
import { guardOf } from './guard-hook.ts';
import { runInSpan, startGuardedToolSpan } from './tools.ts';
import { recordError, type ShimTracing } from './tracing.ts';

type CallTool = (this: unknown, params: { name: string; arguments?: unknown }, ...rest: unknown[]) => Promise<unknown>;

/**
 * @modelcontextprotocol/sdk Client.callTool: one execute_tool span per call,
 * gen_ai.tool.type "extension" (the tool runs in the MCP server, not here). A
 * result with `isError: true` is a failed tool call (error.type "tool_error")
 * even though the protocol call itself succeeded.
 */
export function wrapCallTool(
  tracing: ShimTracing,
  original: CallTool,
  serverUrl: (self: unknown) => string | undefined,
): CallTool {
  return function callTool(this: unknown, params, ...rest): Promise<unknown> {
    const hook = guardOf(tracing);
    // Guard mode: the call waits for the guard to load (or fails if it cannot); never goes out unchecked.
    if (hook !== undefined && hook.current() === undefined)
      return hook.ready.then((): Promise<unknown> => callTool.call(this, params, ...rest));
    let started: ReturnType<typeof startGuardedToolSpan>;
    try {
      started = startGuardedToolSpan(tracing, {
        name: params?.name ?? 'unknown',
        type: 'extension',
        arguments: params?.arguments,
        ...(serverUrl(this) === undefined ? {} : { url: serverUrl(this) }),
      });
    } catch (err) {
      // Blocked by the guard: the MCP server is never called.
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const { span } = started;
    const sent = started.arguments === params?.arguments ? params : { ...params, arguments: started.arguments };
    return runInSpan(
      tracing,
      span,
      () => original.call(this, sent, ...rest),
      (s, result) => {
        const read = obj(result);
        tracing.capture.setPayload(s, GEN_AI.toolResult, read.structuredContent ?? read.content ?? read.toolResult);
        if (read.isError === true)
          recordError(
            s,
            Object.assign(new Error('the MCP tool reported an error'), { name: 'tool_error' }),
            tracing.capture,
          );
      },
    );
  };
}

/** The URL of an HTTP transport (Streamable HTTP, SSE); stdio servers have none. */
export function mcpServerUrl(self: unknown): string | undefined {
  const transport = obj(obj(self).transport ?? obj(self)._transport);
  const url = transport._url ?? transport.url;
  return url instanceof URL ? url.href : str(url);
}
