import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  type InstrumentationConfig,
} from '@opentelemetry/instrumentation';
import { wrapMessagesCreate } from './anthropic.ts';
import { WRAPPED, clientBaseUrl, replace } from './instrument.ts';
import { obj } from './json.ts';
import { wrapChatCreate, wrapResponsesCreate } from './openai.ts';
import type { ShimTracing } from './tracing.ts';

/**
 * Patch on import: when the app loads `openai` or `@anthropic-ai/sdk` after
 * register(), the SDK classes' prototype methods are wrapped, so every client
 * is instrumented without instrument(client). Works for `require()` (CommonJS)
 * out of the box. An ES module app's static imports run before register(), so
 * for `import OpenAI from 'openai'` the import hook must be loaded first
 * (`node --import @opentelemetry/instrumentation/hook.mjs app.js`) — or the app
 * calls instrument(client), which works in both module systems.
 */
export class AiSdkInstrumentation extends InstrumentationBase {
  readonly #tracing: ShimTracing;

  constructor(tracing: ShimTracing, config: InstrumentationConfig = {}) {
    super('@aispm/shim', '0.1.0', config);
    this.#tracing = tracing;
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    const tracing = (): ShimTracing => this.#tracing;
    return [
      new InstrumentationNodeModuleDefinition('openai', ['>=4 <7'], undefined, undefined, [
        classFile('openai/resources/chat/completions/completions.js', 'Completions', (m) =>
          wrapChatCreate(tracing(), m, clientBaseUrl),
        ),
        classFile('openai/resources/responses/responses.js', 'Responses', (m) =>
          wrapResponsesCreate(tracing(), m, clientBaseUrl),
        ),
      ]),
      new InstrumentationNodeModuleDefinition('@anthropic-ai/sdk', ['>=0.30 <2'], undefined, undefined, [
        classFile('@anthropic-ai/sdk/resources/messages/messages.js', 'Messages', (m) =>
          wrapMessagesCreate(tracing(), m, clientBaseUrl),
        ),
      ]),
    ];
  }
}

/**
 * The file that defines an SDK resource class, whose `create` is wrapped on its prototype. Files, not the
 * package root: the SDKs require their root circularly, so its exports are still empty when the hook sees them.
 */
function classFile(path: string, className: string, wrap: (original: never) => unknown): InstrumentationNodeModuleFile {
  return new InstrumentationNodeModuleFile(
    path,
    ['*'],
    (exports: unknown) => {
      replace(prototypeOf(obj(exports)[className]), 'create', wrap as never);
      return exports;
    },
    (exports: unknown) => restore(prototypeOf(obj(exports)[className]), 'create'),
  );
}

function prototypeOf(cls: unknown): Record<string, unknown> {
  return typeof cls === 'function' ? (cls.prototype as Record<string, unknown>) : {};
}

function restore(holder: Record<string, unknown>, name: string): void {
  const original = (holder[name] as { [WRAPPED]?: unknown } | undefined)?.[WRAPPED];
  if (typeof original === 'function') holder[name] = original;
}
