import type { Span } from '@opentelemetry/api';
import { describeError } from '@aispm/core';
import { GUARD_ERROR_CODES, GuardError, type GuardBlockedError } from './guard-error.ts';
import type { Json } from './json.ts';

/**
 * Guard mode's entry in the shim: what register() keeps. The detectors and the
 * policy engine load only when guard mode is on, through a dynamic import of
 * guard.ts, started by register(): an app without `guard` loads none of it.
 */
export interface GuardOptions {
  /**
   * The guard policy: an object in the policy format, or the path of a JSON file holding one (format:
   * services/core/src/detect/guard/README.md). Default: the built-in rules (block prompt injection labelled
   * attack in user prompts and tool results, redact secrets everywhere, allow the rest).
   */
  policy?: object | string;
  /** Called with the error before a blocked call throws it (to log, count, alert); what it throws is ignored. */
  onBlock?: (error: GuardBlockedError) => void;
}

/** The request shapes the guard reads prompts from. */
export type RequestShape = 'openai.chat' | 'openai.responses' | 'anthropic.messages';

/** The loaded guard, as the instrumentations use it. Every method may throw GuardBlockedError. */
export interface LoadedGuard {
  /** Checks a provider request's prompt texts; returns the body to send (the same object unless something was redacted). */
  request(span: Span, shape: RequestShape, body: Json, provider: string): Json;
  /** Checks a tool's arguments before it runs; returns them, redacted where the policy says. */
  toolArguments(span: Span, tool: string, args: unknown): unknown;
  /** Checks a tool's result before it is handed on; returns it, redacted where the policy says. */
  toolResult(span: Span, tool: string, result: unknown): unknown;
  /** Checks an `ai` SDK prompt (LanguageModelV3Prompt) before the model call; returns it, redacted where the policy says. */
  aiPrompt(span: Span, prompt: unknown): unknown;
}

export interface GuardHook {
  /** Settles once the guard has loaded; rejects with a GuardError (guard_unavailable) when it cannot. */
  readonly ready: Promise<void>;
  /** The guard, once loaded. */
  current(): LoadedGuard | undefined;
  /** The guard now, or a GuardError saying why not (still loading, or failed to load). */
  now(): LoadedGuard;
}

export function startGuard(options: GuardOptions, warn: (message: string) => void): GuardHook {
  let loaded: LoadedGuard | undefined;
  let failure: GuardError | undefined;
  const ready = import('./guard.ts')
    .then((module) => {
      loaded = module.loadGuard(options, warn);
    })
    .catch((err: unknown) => {
      failure = new GuardError(
        GUARD_ERROR_CODES.unavailable,
        `aispm guard could not load, so guarded calls fail instead of going out unchecked: ${describeError(err)}`,
        { cause: err },
      );
      warn(failure.message);
      throw failure;
    });
  // Whoever awaits `ready` sees the failure; an app that never does must not crash on an unhandled rejection.
  ready.catch(() => undefined);
  return {
    ready,
    current: () => loaded,
    now() {
      if (loaded !== undefined) return loaded;
      throw (
        failure ??
        new GuardError(
          GUARD_ERROR_CODES.notReady,
          'aispm guard is still loading: await shim.guardReady() once at start-up before synchronous guarded calls (withTool)',
        )
      );
    },
  };
}

const hooks = new WeakMap<object, GuardHook>();

/** Ties a guard to the shim's tracing state (register() does this when `guard` is given). */
export function attachGuard(tracing: object, hook: GuardHook): void {
  hooks.set(tracing, hook);
}

/** The guard of this shim, if guard mode is on. */
export function guardOf(tracing: object): GuardHook | undefined {
  return hooks.get(tracing);
}
