import { context, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import OpenAI, { InternalServerError } from 'openai';
import { FAKE_MODELS } from '../fake-provider.ts';

/**
 * Shared set-up for the Node instrumentation apps, as python/common.py does it
 * for Python: a global tracer provider exporting OTLP/HTTP protobuf to the
 * aispm gateway, and the calls every app makes against the local fake provider.
 */

export const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

export function setupTracing(app: string): BasicTracerProvider {
  const exporter =
    process.env.DUMP_SPANS === '1'
      ? new SimpleSpanProcessor(new ConsoleSpanExporter())
      : new BatchSpanProcessor(
          new OTLPTraceExporter({
            url: env('AISPM_TRACES_ENDPOINT'),
            headers: { Authorization: `Bearer ${env('AISPM_KEY')}` },
          }),
        );
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': app }),
    spanProcessors: [exporter],
  });
  // The agent span reaches the LLM calls awaited inside it only through an async context manager.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return provider;
}

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
} as const;

/**
 * The calls of python/common.py inside an agent run, as python/common.py's agent_run: the
 * agent span the app opens → a plain step span (no AI attributes) → the library's call spans,
 * and a tool span. Only the agent span names the agent; it ends, and is exported, last.
 */
export async function openAiAgentRun(
  agentSpan: { name: string; attributes: Attributes },
  toolAttributes: Attributes,
): Promise<void> {
  const tracer = trace.getTracer('aispm-instrumentation-test');
  await tracer.startActiveSpan(agentSpan.name, { attributes: agentSpan.attributes }, async (agent) => {
    try {
      await tracer.startActiveSpan('plan step', async (step) => {
        try {
          await openAiCalls();
          tracer.startSpan('get_weather', { attributes: toolAttributes }).end();
        } finally {
          step.end();
        }
      });
    } finally {
      agent.end();
    }
  });
}

async function openAiCalls(): Promise<void> {
  const client = new OpenAI({
    baseURL: `${env('FAKE_PROVIDER_URL')}/v1`,
    apiKey: 'sk-test-not-a-real-key',
    maxRetries: 0,
  });
  const messages = [{ role: 'user' as const, content: 'Say hello' }];
  await client.chat.completions.create({ model: FAKE_MODELS.chat.requested, messages, user: 'user-42' });
  await client.chat.completions.create({ model: FAKE_MODELS.tools.requested, messages, tools: [WEATHER_TOOL] });
  const stream = await client.chat.completions.create({
    model: FAKE_MODELS.stream.requested,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  // Read to the end, as an app does: Traceloop ends a stream's span only once the app has consumed it.
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  if (text === '') throw new Error('the stream carried no text');
  await client.embeddings.create({ model: FAKE_MODELS.embedding.requested, input: 'hello world' });
  try {
    await client.chat.completions.create({ model: FAKE_MODELS.error.requested, messages });
  } catch (err) {
    if (!(err instanceof InternalServerError)) throw err;
    return;
  }
  throw new Error('expected a 500 from the fake provider');
}

export async function finish(provider: BasicTracerProvider): Promise<void> {
  await provider.forceFlush();
  await provider.shutdown();
  console.log(JSON.stringify({ done: true }));
}
