import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';

/** One OTLP protobuf request, and where it holds each span's 16-byte trace id. */
export interface GenAiBatch {
  body: Buffer;
  traceIdAt: number[];
}

/**
 * `count` ExportTraceServiceRequests of `spans` GenAI spans each, made by the real OTel
 * SDK: chat calls by nine agents with tokens, and every third span a tool call. With
 * `texts`, each chat carries a prompt and a completion and each tool call its
 * arguments and result, taken in turn from `texts` (as GenAI instrumentations record
 * them when content capture is on); with `conversations`, each chat's prompt is its
 * agent's conversation so far plus a new message, as chat APIs are called.
 */
export function genAiBatches(
  count: number,
  spans: number,
  texts: readonly string[] = [],
  options: { conversations?: boolean } = {},
): GenAiBatch[] {
  let next = 0;
  // Each text made unique, so no cache of verdicts sees the same one twice (except as conversation history).
  const text = (): string => `${texts[next % texts.length]!} (#${next++})`;
  /** Per agent: the messages so far, re-sent with every call as chat APIs take them, up to 8 before a new conversation. */
  const histories = new Map<number, { role: string; parts: { type: string; content: string }[] }[]>();
  const content = (tool: boolean): Record<string, string> => {
    if (texts.length === 0) return {};
    if (tool)
      return { 'gen_ai.tool.call.arguments': JSON.stringify({ query: text() }), 'gen_ai.tool.call.result': text() };
    const message = (role: string, t: string) => ({ role, parts: [{ type: 'text', content: t }] });
    const answer = message('assistant', text());
    let input = [message('user', text())];
    if (options.conversations) {
      const agent = next % 9;
      const history = histories.get(agent) ?? [];
      input = [...(history.length >= 8 ? [] : history), ...input];
      histories.set(agent, [...input, answer]);
    }
    return {
      'gen_ai.input.messages': JSON.stringify(input),
      'gen_ai.output.messages': JSON.stringify([{ ...answer, finish_reason: 'stop' }]),
    };
  };
  return Array.from({ length: count }, (_, b) => {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': `bench-app-${b % 5}`, 'deployment.environment.name': 'prod' }),
      spanProcessors: [new SimpleSpanProcessor(memory)],
    });
    const tracer = provider.getTracer('bench', '1.0.0');
    for (let i = 0; i < spans; i++) {
      const tool = i % 3 === 0;
      tracer
        .startSpan(tool ? 'execute_tool search' : 'chat gpt-4o', {
          attributes: tool
            ? {
                'gen_ai.operation.name': 'execute_tool',
                'gen_ai.tool.name': 'search',
                'gen_ai.agent.name': `agent-${i % 9}`,
                'aispm.tool.risk': 'read',
                ...content(true),
              }
            : {
                'gen_ai.operation.name': 'chat',
                'gen_ai.provider.name': 'openai',
                'gen_ai.request.model': 'gpt-4o',
                'gen_ai.response.model': 'gpt-4o-2024-08-06',
                'gen_ai.agent.name': `agent-${i % 9}`,
                'gen_ai.usage.input_tokens': 100 + i,
                'gen_ai.usage.output_tokens': 20 + (i % 50),
                'server.address': 'api.openai.com',
                'enduser.id': `user-${i % 800}`,
                ...content(false),
              },
        })
        .end();
    }
    const finished = memory.getFinishedSpans();
    const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(finished)!);
    const traceIdAt = finished.map((span) => body.indexOf(Buffer.from(span.spanContext().traceId, 'hex')));
    return { body, traceIdAt };
  });
}
