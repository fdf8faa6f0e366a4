import { z } from 'zod';
import { toOcsfDetectionFinding } from '@aispm/core';
import type { Destination } from '../notification.ts';
import { classifyAnswer, excerpt, noAnswerResult, request } from './http.ts';
import { durationMs, httpUrl, parseOptions, resolveSecret, secretRef, type DestinationConfig } from './options.ts';

/** OCSF over HTTP, for security lakes: a JSON array of Detection Finding (class 2004) objects, one per finding. */
export const ocsfHttpOptions = z.object({
  url: httpUrl,
  /** A bearer token, when the collector asks for one. */
  token_env: secretRef.env,
  token_file: secretRef.file,
  timeout_ms: durationMs(10_000),
});

export function createOcsfHttp(
  config: DestinationConfig,
  env: NodeJS.ProcessEnv,
  deps: { now?: () => number } = {},
): Destination {
  const options = parseOptions(config, ocsfHttpOptions, ['token']);
  const token = resolveSecret(config.name, 'token', { env: options.token_env, file: options.token_file }, env, false);
  const now = deps.now ?? Date.now;
  const what = `OCSF destination ${config.name}`;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  return {
    name: config.name,
    kind: 'ocsf_http',
    async send(notification, signal) {
      const body = JSON.stringify(notification.findings.map((f) => toOcsfDetectionFinding(f)));
      const outcome = await request({ url: options.url, headers, body, timeoutMs: options.timeout_ms, signal });
      if (outcome.kind !== 'answer') return noAnswerResult(what, outcome, options.timeout_ms);
      return classifyAnswer(what, outcome.status, outcome.headers, {
        now: now(),
        secretOption: 'token_env / token_file',
        detail: excerpt(outcome.body),
      });
    },
    async close() {},
  };
}
