import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import OpenAI from 'openai';
import { env, finish, openAiAgentRun, setupTracing } from './common.ts';

const provider = setupTracing('node-openinference-openai');
const instrumentation = new OpenAIInstrumentation();
registerInstrumentations({ instrumentations: [instrumentation] });
// The require hook does not see an ESM import: the library's manual instrumentation patches the OpenAI class
// (its static OpenAI stands for the module).
instrumentation.manuallyInstrument(OpenAI);

// OpenInference's agent span: span kind AGENT, the agent named in agent.name.
const agent = env('AGENT_NAME');
await openAiAgentRun(
  { name: agent, attributes: { 'openinference.span.kind': 'AGENT', 'agent.name': agent } },
  { 'openinference.span.kind': 'TOOL', 'tool.name': 'get_weather' },
);
await finish(provider);
