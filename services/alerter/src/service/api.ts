import { CONFIG_KEYS, matchingKeys, parseTenantKeys, type TenantKey } from '@aispm/core';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { ALERTER_ERRORS, type AlerterErrorCode } from './errors.ts';
import { parseSilence, type Silence, type SilenceStore } from './silences.ts';

export interface AlerterApiOptions {
  /** `tenant:key` entries; without them the silences routes answer 401 to everyone. */
  keys: string | null;
  silences: SilenceStore;
  registry: Registry;
  /** False while the alerter is stopping: /healthz answers 503. */
  healthy: () => boolean;
  /** Called after a silence was added or expired. */
  onChange?: () => void;
  now?: () => number;
}

/**
 * The alerter's HTTP API: silences (POST, GET, DELETE /api/v1/silences), scoped to
 * the tenant of the key; /healthz; Prometheus /metrics. Silences are tenant data,
 * so every silences route needs a key; health and metrics need none (bind the
 * listener to loopback, the default, where that matters).
 */
export function buildAlerterApi(options: AlerterApiOptions): FastifyInstance {
  const now = options.now ?? Date.now;
  const keys: TenantKey[] = options.keys
    ? parseTenantKeys(options.keys, CONFIG_KEYS.alertApiKeys.env, CONFIG_KEYS.alertApiKeys.expected)
    : [];
  const app = Fastify({ bodyLimit: 64 * 1024 });

  const fail = (reply: FastifyReply, code: AlerterErrorCode, ...args: string[]): FastifyReply => {
    const e = ALERTER_ERRORS[code];
    const message = (e.message as (...a: string[]) => string)(...args);
    return reply.code('status' in e && e.status ? e.status : 500).send({ code, message });
  };
  const tenantOf = (request: FastifyRequest): string | null => {
    const auth = request.headers.authorization ?? '';
    const key = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    // The last matching entry, as a later line overrides an earlier one (as the gateway's keys).
    return matchingKeys(keys, key).at(-1)?.tenant ?? null;
  };
  const view = (s: Silence): Record<string, unknown> => ({
    id: s.id,
    matchers: s.matchers,
    startsAt: new Date(s.startsAt).toISOString(),
    endsAt: new Date(s.endsAt).toISOString(),
    createdBy: s.createdBy,
    comment: s.comment,
    status: { state: s.startsAt > now() ? 'pending' : 'active' },
  });

  app.get('/healthz', async (_request, reply) =>
    options.healthy() ? reply.send({ status: 'ok' }) : fail(reply, 'stopping'),
  );
  app.get('/metrics', async (_request, reply) =>
    reply.type(options.registry.contentType).send(await options.registry.metrics()),
  );
  app.post('/api/v1/silences', async (request, reply) => {
    const tenant = tenantOf(request);
    if (tenant === null) return fail(reply, 'unauthorized');
    const parsed = parseSilence(request.body, tenant, now());
    if (!parsed.ok) return fail(reply, 'silence_invalid', parsed.reason);
    const added = options.silences.add(parsed.silence, now());
    if (!added.ok) return fail(reply, 'silences_full', String(added.full));
    options.onChange?.();
    return reply.code(200).send({ silenceID: parsed.silence.id, silence: view(parsed.silence) });
  });
  app.get('/api/v1/silences', async (request, reply) => {
    const tenant = tenantOf(request);
    if (tenant === null) return fail(reply, 'unauthorized');
    return reply.send({ silences: options.silences.list(tenant, now()).map(view) });
  });
  app.delete<{ Params: { id: string } }>('/api/v1/silences/:id', async (request, reply) => {
    const tenant = tenantOf(request);
    if (tenant === null) return fail(reply, 'unauthorized');
    if (!options.silences.expire(tenant, request.params.id, now()))
      return fail(reply, 'silence_not_found', request.params.id);
    options.onChange?.();
    return reply.send({ expired: request.params.id });
  });
  return app;
}
