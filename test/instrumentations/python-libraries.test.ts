import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AiEvent } from '@aispm/core';
import { KEY_ACME, startTestGateway, type TestGateway } from '../gateway/support.ts';
import { ensurePythonVenv, type PythonEnv } from '../setup/python.ts';
import { FAKE_MODELS, FAKE_USAGE, startFakeProvider, type FakeProvider } from './fake-provider.ts';

/**
 * The real Python GenAI instrumentations (pinned in test/python-requirements.txt),
 * each driving the real openai / anthropic SDK against a local fake provider and
 * exporting OTLP/HTTP protobuf to a real gateway: every call must arrive as one
 * event, mapped as the library reports it. Never skips: without python3, venv
 * or pip, ensurePythonVenv fails saying what to install.
 */

const run = promisify(execFile);
const SCRIPTS = join(import.meta.dirname, 'python');

interface Expected {
  kind: AiEvent['kind'];
  request_model: string;
  response_model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  finish_reasons: string[];
  status: 'ok' | 'error';
  error_type: string | null;
  /** 'fake' for the fake provider's host:port; null where the library reports no destination. */
  destination: 'fake' | null;
  /** The prefix of gen_ai.response.id in the event's attributes, or null where the library reports none. */
  response_id: string | null;
}

const { chat, tools, stream, error, embedding, claude, claudeTools, claudeStream, claudeError } = FAKE_MODELS;
const { input, output } = FAKE_USAGE;

function ok(
  model: { requested: string; responded: string | null },
  finish: string[],
  more: Partial<Expected> = {},
): Expected {
  return {
    kind: 'llm_call',
    request_model: model.requested,
    response_model: model.responded,
    input_tokens: input,
    output_tokens: output,
    finish_reasons: finish,
    status: 'ok',
    error_type: null,
    destination: null,
    response_id: model.requested.startsWith('claude') ? 'msg_' : 'chatcmpl-',
    ...more,
  };
}

function failed(model: { requested: string }, more: Partial<Expected> = {}): Expected {
  return {
    kind: 'llm_call',
    request_model: model.requested,
    response_model: null,
    input_tokens: null,
    output_tokens: null,
    finish_reasons: [],
    status: 'error',
    error_type: 'internal_server_error',
    destination: null,
    response_id: null,
    ...more,
  };
}

const EMBEDDING: Expected = {
  kind: 'embedding',
  request_model: embedding.requested,
  response_model: embedding.responded,
  input_tokens: input,
  output_tokens: null,
  finish_reasons: [],
  status: 'ok',
  error_type: null,
  destination: null,
  response_id: null,
};

/** What each library reports of the calls in python/common.py (a library that omits a field is expected to). */
const LIBRARIES: { script: string; app: string; calls: Expected[] }[] = [
  {
    // Sends no server.address with openai 3.x (its host lookup expects httpx's URL type, openai now uses httpx2),
    // and no finish reason for a stream.
    script: 'otel_openai_v2.py',
    app: 'py-otel-openai-v2',
    calls: [ok(chat, ['stop']), ok(tools, ['tool_call']), ok(stream, []), EMBEDDING, failed(error)],
  },
  {
    // No destination attribute; the response id only in the response body it records as output.value.
    script: 'openinference_openai.py',
    app: 'py-openinference-openai',
    calls: [ok(chat, ['stop']), ok(tools, ['tool_call']), ok(stream, ['stop']), EMBEDDING, failed(error)],
  },
  {
    script: 'openllmetry_openai.py',
    app: 'py-openllmetry-openai',
    calls: [
      ok(chat, ['stop'], { destination: 'fake' }),
      ok(tools, ['tool_call'], { destination: 'fake' }),
      ok(stream, ['stop'], { destination: 'fake' }),
      { ...EMBEDDING, destination: 'fake' },
      failed(error, { destination: 'fake' }),
    ],
  },
  {
    script: 'anthropic_sdk.py',
    app: 'py-anthropic-sdk',
    calls: [
      ok(claude, ['stop'], { destination: 'fake' }),
      ok(claudeTools, ['tool_call'], { destination: 'fake' }),
      ok(claudeStream, ['length'], { destination: 'fake' }),
      failed(claudeError, { destination: 'fake' }),
    ],
  },
  {
    script: 'openinference_anthropic.py',
    app: 'py-openinference-anthropic',
    calls: [ok(claude, ['stop']), ok(claudeTools, ['tool_call']), ok(claudeStream, ['length']), failed(claudeError)],
  },
];

let python: PythonEnv;
let provider: FakeProvider;
let gw: TestGateway;

beforeAll(async () => {
  python = await ensurePythonVenv();
  provider = await startFakeProvider();
  gw = await startTestGateway(inject('kafkaBrokers'));
  const env = {
    ...process.env,
    FAKE_PROVIDER_URL: provider.url,
    AISPM_TRACES_ENDPOINT: `${gw.gateway.url}/v1/traces`,
    AISPM_KEY: KEY_ACME,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    OTEL_PYTHON_LOG_LEVEL: 'error',
    PYTHONDONTWRITEBYTECODE: '1',
  };
  await Promise.all(
    LIBRARIES.map(async ({ script }) => {
      try {
        await run(python.python, [join(SCRIPTS, script)], { env, cwd: SCRIPTS, timeout: 120_000 });
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? '';
        throw new Error(`${script} failed: ${(err as Error).message}\n${stderr.slice(-3000)}`);
      }
    }),
  );
  const total = LIBRARIES.reduce((sum, library) => sum + library.calls.length, 0);
  await gw.waitForEvents((events) => events.length >= total, `${total} events`, 60_000);
  // A moment more, so a duplicate report would have arrived too.
  await new Promise((resolve) => setTimeout(resolve, 1000));
}, 600_000);

afterAll(async () => {
  await gw?.close();
  await provider?.close();
});

describe.each(LIBRARIES)('$app ($script), real library against a fake provider', ({ app, calls }) => {
  it('makes one event per call, no more', () => {
    const events = gw.events.filter((event) => event.app === app);
    expect(events.map((event) => event.request_model).sort()).toEqual(calls.map((call) => call.request_model).sort());
  });

  it.each(calls.map((call) => [call.request_model, call] as const))('maps the %s call', (model, call) => {
    const event = gw.events.find((candidate) => candidate.app === app && candidate.request_model === model);
    expect(event, `no event for ${model}`).toBeDefined();
    expect({
      kind: event!.kind,
      request_model: event!.request_model,
      response_model: event!.response_model,
      input_tokens: event!.input_tokens,
      output_tokens: event!.output_tokens,
      finish_reasons: event!.finish_reasons,
      status: event!.status,
      error_type: event!.error_type,
      destination: event!.destination,
    }).toEqual({
      ...call,
      destination: call.destination === 'fake' ? `127.0.0.1:${provider.port}` : null,
      response_id: undefined,
    });
    const id = event!.attributes['gen_ai.response.id'];
    if (call.response_id === null) expect(id).toBeUndefined();
    else expect(id).toMatch(new RegExp(`^${call.response_id}`));
    if (call.kind === 'embedding') expect(event!.content.completion).toBeNull();
  });
});
