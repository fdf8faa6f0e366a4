import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_MODELS } from './fake-provider.ts';
import {
  describeLibraries,
  EMBEDDING,
  eventsOf,
  ok,
  runLibraries,
  type Library,
  type LibraryRun,
} from './libraries.ts';

/**
 * The real Node GenAI instrumentations (exact-pinned in package.json), each in
 * its own process driving the real openai package against a local fake
 * provider inside an agent span the app opens, exporting OTLP/HTTP protobuf
 * with the OTel SDK to a real gateway: every call must arrive as one event,
 * mapped as the library reports it, and the agent span as one agent_action.
 */

const run = promisify(execFile);
const APPS = join(import.meta.dirname, 'node');
const AGENT = 'weather-agent';

const { chat, tools, stream, error, embedding } = FAKE_MODELS;

/**
 * What each library reports of the calls in node/common.ts. Neither ends the
 * span of a call whose promise rejects (both hook only its success), so the 500
 * is never exported and makes no event; neither reports a destination or the
 * usage of a stream.
 */
const LIBRARIES: Library[] = [
  {
    // The response id only in the response body it records as output.value, and none for a stream, whose
    // llm.model_name stays the requested model; no usage for an embedding.
    script: 'openinference-openai.ts',
    app: 'node-openinference-openai',
    agent: AGENT,
    tools: ['get_weather'],
    calls: [
      ok(chat, ['stop']),
      ok(tools, ['tool_call']),
      ok(stream, ['stop'], {
        response_model: stream.requested,
        input_tokens: null,
        output_tokens: null,
        response_id: null,
      }),
      { ...EMBEDDING, input_tokens: null },
    ],
  },
  {
    // Embeddings are not instrumented: no span.
    script: 'traceloop-openai.ts',
    app: 'node-traceloop-openai',
    agent: AGENT,
    tools: ['get_weather'],
    calls: [
      ok(chat, ['stop']),
      ok(tools, ['tool_call']),
      ok(stream, ['stop'], { input_tokens: null, output_tokens: null }),
    ],
  },
];

let libraries: LibraryRun;

beforeAll(async () => {
  // process.execPath is the repository's pinned Node, which runs the TypeScript apps as they are.
  libraries = await runLibraries(
    LIBRARIES,
    (script, env) => run(process.execPath, [join(APPS, script)], { env, cwd: APPS, timeout: 120_000 }),
    { AGENT_NAME: AGENT },
  );
}, 600_000);

afterAll(async () => {
  await libraries?.close();
});

describeLibraries(LIBRARIES, () => libraries);

it('every app made every call, so a missing event is the library not reporting it', () => {
  const calls = [chat, tools, stream, error].map((model) => `/v1/chat/completions ${model.requested}`);
  calls.push(`/v1/embeddings ${embedding.requested}`);
  expect([...libraries.provider.requests].sort()).toEqual(LIBRARIES.flatMap(() => calls).sort());
});

describe.each(LIBRARIES)('$app agent run', ({ app }) => {
  it('makes the agent span one agent_action event naming the agent, an ancestor of every call', () => {
    const { calls, agents } = eventsOf(libraries, app);
    expect(agents).toHaveLength(1);
    const agentRun = agents[0]!;
    expect({ agent: agentRun.agent, request_model: agentRun.request_model, parent: agentRun.parent_span_id }).toEqual({
      agent: AGENT,
      request_model: null,
      parent: null,
    });
    // In the agent's trace, below a step span that is no AI action (so not the agent span itself).
    expect(new Set(calls.map((call) => call.trace_id))).toEqual(new Set([agentRun.trace_id]));
    expect(calls.filter((call) => call.parent_span_id === agentRun.span_id)).toEqual([]);
  });
});
