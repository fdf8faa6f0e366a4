import { describe, expect, inject, it } from 'vitest';
import type { AiEvent } from '@aispm/core';
import { KEY_ACME, startTestGateway, type TestGateway } from '../gateway/support.ts';
import { FAKE_MODELS, FAKE_USAGE, startFakeProvider, type FakeProvider } from './fake-provider.ts';

/**
 * What the Python and Node instrumentation tests share: the expected mapping
 * of each call, a fake provider and gateway with every library's app run
 * against them, and the per-call assertions.
 */

export interface Expected {
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

export interface Library {
  /** The app's file, in its language's folder. */
  script: string;
  /** Its service.name. */
  app: string;
  /** What the library reports of each call that makes a span (a library that omits a field is expected to). */
  calls: Expected[];
  /**
   * The agent its agent span names: the one agent_action event of the app, to which trace
   * assembly attributes every call and tool span of the run. None when the app opens no agent span.
   */
  agent?: string;
  /** The tools its run's tool spans name (one tool_call event each). */
  tools?: string[];
}

const { input, output } = FAKE_USAGE;

export function ok(
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

export function failed(model: { requested: string }, more: Partial<Expected> = {}): Expected {
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

export const EMBEDDING: Expected = {
  kind: 'embedding',
  request_model: FAKE_MODELS.embedding.requested,
  response_model: FAKE_MODELS.embedding.responded,
  input_tokens: input,
  output_tokens: null,
  finish_reasons: [],
  status: 'ok',
  error_type: null,
  destination: null,
  response_id: null,
};

export interface LibraryRun {
  provider: FakeProvider;
  gw: TestGateway;
  close(): Promise<void>;
}

/**
 * Starts the fake provider and a gateway in front of the test broker, runs
 * every library's app (in parallel, each in its own process) with the env
 * they read, and waits until every expected event has arrived, and a moment
 * more, so a duplicate report would have arrived too.
 */
export async function runLibraries(
  libraries: readonly Library[],
  runApp: (script: string, env: NodeJS.ProcessEnv) => Promise<unknown>,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<LibraryRun> {
  const provider = await startFakeProvider();
  // Behind the gateway, the traces stage: what is read back is the events after trace assembly
  // (agents attributed, calls reported twice merged). Apps export their agent span last, at exit.
  const gw = await startTestGateway(inject('kafkaBrokers'), {}, { assemble: true });
  const close = async (): Promise<void> => {
    await gw.close();
    await provider.close();
  };
  try {
    const env = {
      ...process.env,
      FAKE_PROVIDER_URL: provider.url,
      AISPM_TRACES_ENDPOINT: `${gw.gateway.url}/v1/traces`,
      AISPM_KEY: KEY_ACME,
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
      ...extraEnv,
    };
    await Promise.all(
      libraries.map(async ({ script }) => {
        try {
          await runApp(script, env);
        } catch (err) {
          const stderr = (err as { stderr?: string }).stderr ?? '';
          throw new Error(`${script} failed: ${(err as Error).message}\n${stderr.slice(-3000)}`);
        }
      }),
    );
    const total = libraries.reduce(
      (sum, library) => sum + library.calls.length + (library.agent ? 1 : 0) + (library.tools?.length ?? 0),
      0,
    );
    await gw.waitForEvents((events) => events.length >= total, `${total} events`, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { provider, gw, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The app's events: model calls, tool calls and agent spans apart. */
export function eventsOf(run: LibraryRun, app: string): { calls: AiEvent[]; tools: AiEvent[]; agents: AiEvent[] } {
  const events = run.gw.events.filter((event) => event.app === app);
  return {
    calls: events.filter((event) => event.kind === 'llm_call' || event.kind === 'embedding'),
    tools: events.filter((event) => event.kind === 'tool_call'),
    agents: events.filter((event) => event.kind === 'agent_action'),
  };
}

/** Per library: one event per call and no more, each mapped as expected. */
export function describeLibraries(libraries: readonly Library[], run: () => LibraryRun): void {
  describe.each(libraries)('$app ($script), real library against a fake provider', ({ app, calls, agent, tools }) => {
    it('makes one event per call, no more', () => {
      const events = eventsOf(run(), app);
      expect(events.calls.map((event) => event.request_model).sort()).toEqual(
        calls.map((call) => call.request_model).sort(),
      );
      expect(events.agents.map((event) => event.agent)).toEqual(agent === undefined ? [] : [agent]);
      expect(events.tools.map((event) => event.tool_name)).toEqual(tools ?? []);
    });

    it.runIf(agent !== undefined)('attributes every call and tool of the run to the agent its agent span names', () => {
      const events = eventsOf(run(), app);
      expect(events.agents.map((event) => event.attribution)).toEqual(['own']);
      // Only the agent span names the agent: every other event inherits it through the trace.
      const attributed = [...events.calls, ...events.tools].map((event) => [event.agent, event.attribution]);
      expect(attributed).toEqual(attributed.map(() => [agent, 'inherited']));
      expect(attributed.length).toBe(calls.length + (tools?.length ?? 0));
    });

    it.each(calls.map((call) => [call.request_model, call] as const))('maps the %s call', (model, call) => {
      const event = eventsOf(run(), app).calls.find((candidate) => candidate.request_model === model);
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
        destination: call.destination === 'fake' ? `127.0.0.1:${run().provider.port}` : null,
        response_id: undefined,
      });
      const id = event!.attributes['gen_ai.response.id'];
      if (call.response_id === null) expect(id).toBeUndefined();
      else expect(id).toMatch(new RegExp(`^${call.response_id}`));
      if (call.kind === 'embedding') expect(event!.content.completion).toBeNull();
    });
  });
}
