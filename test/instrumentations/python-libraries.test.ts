import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { ensurePythonVenv } from '../setup/python.ts';
import { FAKE_MODELS } from './fake-provider.ts';
import { describeLibraries, EMBEDDING, failed, ok, runLibraries, type Library, type LibraryRun } from './libraries.ts';

/**
 * The real Python GenAI instrumentations (pinned in test/python-requirements.txt),
 * each driving the real openai / anthropic SDK against a local fake provider and
 * exporting OTLP/HTTP protobuf to a real gateway: every call must arrive as one
 * event, mapped as the library reports it. Never skips: without python3, venv
 * or pip, ensurePythonVenv fails saying what to install.
 */

const run = promisify(execFile);
const SCRIPTS = join(import.meta.dirname, 'python');

const { chat, tools, stream, error, claude, claudeTools, claudeStream, claudeError } = FAKE_MODELS;
/** Every app runs its calls inside an agent run (python/common.py agent_run) with one tool span. */
const RUN = { agent: 'weather-agent', tools: ['get_weather'] };

/** What each library reports of the calls in python/common.py (a library that omits a field is expected to). */
const LIBRARIES: Library[] = [
  {
    // Sends no server.address with openai 3.x (its host lookup expects httpx's URL type, openai now uses httpx2),
    // and no finish reason for a stream.
    script: 'otel_openai_v2.py',
    app: 'py-otel-openai-v2',
    ...RUN,
    calls: [ok(chat, ['stop']), ok(tools, ['tool_call']), ok(stream, []), EMBEDDING, failed(error)],
  },
  {
    // No destination attribute; the response id only in the response body it records as output.value.
    script: 'openinference_openai.py',
    app: 'py-openinference-openai',
    ...RUN,
    calls: [ok(chat, ['stop']), ok(tools, ['tool_call']), ok(stream, ['stop']), EMBEDDING, failed(error)],
  },
  {
    script: 'openllmetry_openai.py',
    app: 'py-openllmetry-openai',
    ...RUN,
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
    ...RUN,
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
    ...RUN,
    calls: [ok(claude, ['stop']), ok(claudeTools, ['tool_call']), ok(claudeStream, ['length']), failed(claudeError)],
  },
  {
    // Both report each call: the SDK's own span inside OpenInference's. One event per call after the
    // merge, with the fields either knows: the SDK's destination, OpenInference's the rest.
    script: 'anthropic_sdk_openinference.py',
    app: 'py-anthropic-sdk-openinference',
    ...RUN,
    calls: [
      ok(claude, ['stop'], { destination: 'fake' }),
      ok(claudeTools, ['tool_call'], { destination: 'fake' }),
      ok(claudeStream, ['length'], { destination: 'fake' }),
      failed(claudeError, { destination: 'fake' }),
    ],
  },
];

let libraries: LibraryRun;

beforeAll(async () => {
  const python = await ensurePythonVenv();
  libraries = await runLibraries(
    LIBRARIES,
    (script, env) => run(python.python, [join(SCRIPTS, script)], { env, cwd: SCRIPTS, timeout: 120_000 }),
    { OTEL_PYTHON_LOG_LEVEL: 'error', PYTHONDONTWRITEBYTECODE: '1' },
  );
}, 600_000);

afterAll(async () => {
  await libraries?.close();
});

describeLibraries(LIBRARIES, () => libraries);
