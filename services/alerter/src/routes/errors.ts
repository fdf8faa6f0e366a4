import { AispmError } from '@aispm/core';

/**
 * The routes file's errors, in one catalog: a stable code and a message naming the
 * file, the place in it and what to write instead. Start-up stops on them.
 */
export const ROUTES_ERRORS = {
  routes_unreadable: (file: string, why: string) =>
    `routes file ${file}: cannot be read (${why}); give the path of a routes JSON file (AISPM_ALERT_ROUTES_FILE), or leave it unset for the default`,
  routes_not_json: (file: string, why: string) =>
    `routes file ${file}: not valid JSON (${why}); the format is in services/alerter/README.md`,
  routes_invalid: (file: string, path: string, what: string) => `routes file ${file}: at ${path || 'the top'}: ${what}`,
} as const;

export type RoutesErrorCode = keyof typeof ROUTES_ERRORS;

export class RoutesError extends AispmError {
  readonly file: string;
  /** Where in the file, as `route.routes[1].match[0]`; empty for the whole file. */
  readonly path: string;

  constructor(code: RoutesErrorCode, file: string, path: string, message: string) {
    super(code, message);
    this.name = 'RoutesError';
    this.file = file;
    this.path = path;
  }
}

export function routesError(file: string, path: string, what: string): RoutesError {
  return new RoutesError('routes_invalid', file, path, ROUTES_ERRORS.routes_invalid(file, path, what));
}
