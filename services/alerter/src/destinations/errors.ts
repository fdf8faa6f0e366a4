import { ConfigError } from '@aispm/core';

/**
 * The reasons a destination gives in a failed DeliveryResult, in one catalog: each
 * says what went wrong and what to do. `retryable` follows the API's own rules
 * (PagerDuty: never retry a 400; Splunk HEC: its documented `code` values).
 */
export const DELIVERY_REASONS = {
  timeout: (what: string, ms: number) =>
    `${what} did not answer within ${ms} ms; it is retried (raise timeout_ms if the receiver is slow)`,
  unreachable: (what: string, why: string) => `${what} is unreachable (${why}); it is retried`,
  aborted: (what: string) => `delivery to ${what} was cancelled (the alerter is stopping); it is retried on restart`,
  rateLimited: (what: string, status: number) =>
    `${what} answered ${status} (rate limited); it is retried after the wait it asked for`,
  serverError: (what: string, status: number, detail: string) =>
    `${what} answered ${status}${detail ? `: ${detail}` : ''}; it is retried`,
  rejected: (what: string, status: number, detail: string) =>
    `${what} rejected the request with ${status}${detail ? `: ${detail}` : ''}; it will not be retried: fix the destination's options or report the payload`,
  unauthorized: (what: string, status: number, option: string) =>
    `${what} refused the credentials (${status}); it will not be retried: check the secret named by ${option}`,
  clientLimit: (what: string, perMinute: number) =>
    `${what}: the client-side limit of ${perMinute} events/min per routing key is used up; it is retried when tokens refill`,
  tooLarge: (what: string, bytes: number, limit: number) =>
    `${what}: one message is ${bytes} bytes, over the limit of ${limit} even after trimming; it will not be retried`,
} as const;

/** An option of a destination is missing or malformed: start-up stops naming the destination, the option and what to write. */
export function destinationOptionError(destination: string, option: string, message: string): ConfigError {
  return new ConfigError(`destinations.${destination}.${option}`, message);
}
