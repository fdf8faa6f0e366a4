import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { OpenAIInstrumentation } from '@traceloop/instrumentation-openai';
import OpenAI from 'openai';
import { env, finish, openAiAgentRun, setupTracing } from './common.ts';

const provider = setupTracing('node-traceloop-openai');
const instrumentation = new OpenAIInstrumentation();
registerInstrumentations({ instrumentations: [instrumentation] });
// The require hook does not see an ESM import: manuallyInstrument patches the OpenAI class itself,
// as @traceloop/node-server-sdk does with `instrumentModules: { openAI: OpenAI }`.
instrumentation.manuallyInstrument(OpenAI);

// Traceloop's agent span (its SDK's withAgent): `<name>.agent`, traceloop.span.kind agent, the name in traceloop.entity.name.
const agent = env('AGENT_NAME');
await openAiAgentRun(
  {
    name: `${agent}.agent`,
    attributes: { 'traceloop.span.kind': 'agent', 'traceloop.entity.name': agent },
  },
  { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': 'get_weather' },
);
await finish(provider);
