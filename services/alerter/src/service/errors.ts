import { AispmError } from '@aispm/core';

/**
 * Every error the alerter service raises on purpose or answers over HTTP, in one
 * catalog: a stable code, the HTTP status where it is an answer of the API, and a
 * message that says what to do.
 */
interface Entry<A extends unknown[]> {
  status?: 400 | 401 | 404 | 409 | 413 | 503;
  message: (...args: A) => string;
}

const entry = <A extends unknown[]>(e: Entry<A>): Entry<A> => e;

export const ALERTER_ERRORS = {
  unauthorized: entry({
    status: 401,
    message: () =>
      'unknown or missing API key; send it as "Authorization: Bearer <key>" (AISPM_ALERT_API_KEYS lists the keys)',
  }),
  silence_invalid: entry({
    status: 400,
    message: (why: string) => `the silence is not valid: ${why}`,
  }),
  silence_not_found: entry({
    status: 404,
    message: (id: string) => `no silence ${id} for this tenant; list them with GET /api/v1/silences`,
  }),
  silences_full: entry({
    status: 409,
    message: (bound: number) =>
      `this tenant already has ${bound} active silences, the most it may have; expire some (DELETE /api/v1/silences/<id>) first`,
  }),
  stopping: entry({
    status: 503,
    message: () => 'the alerter is stopping; retry against the next instance',
  }),
  unknown_destination: entry({
    message: (name: string, route: string) =>
      `route ${route} names destination "${name}", which the routes file does not define; add it under "destinations"`,
  }),
  api_port_taken: entry({
    message: (port: number, host: string) =>
      `port ${port} on ${host} is taken (another aispm alerter?); set AISPM_ALERT_API_PORT to a free port, or 0 for any`,
  }),
} as const;

export type AlerterErrorCode = keyof typeof ALERTER_ERRORS;

export function alerterError<C extends AlerterErrorCode>(
  code: C,
  ...args: Parameters<(typeof ALERTER_ERRORS)[C]['message']>
): AispmError {
  const message = (ALERTER_ERRORS[code].message as (...a: unknown[]) => string)(...args);
  return new AispmError(`alerter_${code}`, message);
}
