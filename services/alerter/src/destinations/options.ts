import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { destinationOptionError } from './errors.ts';

/** What the routes file gives for one destination: its name, its kind, and the kind's own options. */
export interface DestinationConfig {
  name: string;
  kind: string;
  [option: string]: unknown;
}

/**
 * Parses a destination's options with its zod schema, once, at start-up. A wrong option
 * stops start-up with the destination, the option and the form it expects; an unknown
 * option is an error too (a typo would otherwise silently keep a default).
 */
export function parseOptions<S extends z.ZodObject>(
  config: DestinationConfig,
  schema: S,
  secrets: readonly string[] = [],
): z.infer<S> {
  const options: Record<string, unknown> = { ...config };
  delete options.name;
  delete options.kind;
  for (const s of secrets) {
    if (s in options) {
      failOption(
        config.name,
        s,
        `secrets are not written inline: write ${s}_env: VAR_NAME or ${s}_file: /path/to/file`,
      );
    }
  }
  const parsed = schema.strict().safeParse(options);
  if (parsed.success) return parsed.data as z.infer<S>;
  const issue = parsed.error.issues[0]!;
  const option = issue.path.join('.') || '(options)';
  const what =
    issue.code === 'unrecognized_keys'
      ? `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} for a ${config.kind} destination; remove ${issue.keys.length > 1 ? 'them' : 'it'} (see the alerter's destination options)`
      : issue.message;
  return failOption(config.name, issue.code === 'unrecognized_keys' ? issue.keys[0]! : option, what);
}

function failOption(destination: string, option: string, message: string): never {
  throw destinationOptionError(destination, option, message);
}

export const durationMs = (fallback: number) => z.number().int().positive().max(3_600_000).default(fallback);

export const httpUrl = z
  .string()
  .url('write an http:// or https:// URL')
  .refine((u) => /^https?:\/\//.test(u), 'write an http:// or https:// URL');

/**
 * A secret is never written inline in the routes file: the options name an
 * environment variable (`<secret>_env`) or a file (`<secret>_file`, read once, trimmed).
 */
export const secretRef = {
  env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'write the name of an environment variable')
    .optional(),
  file: z.string().min(1, 'write the path of a file holding the secret').optional(),
};

export function resolveSecret(
  destination: string,
  secret: string,
  ref: { env?: string | undefined; file?: string | undefined },
  env: NodeJS.ProcessEnv,
  required: true,
): string;
export function resolveSecret(
  destination: string,
  secret: string,
  ref: { env?: string | undefined; file?: string | undefined },
  env: NodeJS.ProcessEnv,
  required: false,
): string | undefined;
export function resolveSecret(
  destination: string,
  secret: string,
  ref: { env?: string | undefined; file?: string | undefined },
  env: NodeJS.ProcessEnv,
  required: boolean,
): string | undefined {
  if (ref.env !== undefined && ref.file !== undefined) {
    failOption(destination, `${secret}_env`, `give ${secret}_env or ${secret}_file, not both`);
  }
  if (ref.env !== undefined) {
    const value = env[ref.env]?.trim();
    if (!value)
      failOption(destination, `${secret}_env`, `environment variable ${ref.env} is not set or empty; export it`);
    return value;
  }
  if (ref.file !== undefined) {
    let value: string;
    try {
      value = readFileSync(ref.file, 'utf8').trim();
    } catch (err) {
      return failOption(
        destination,
        `${secret}_file`,
        `cannot read ${ref.file} (${(err as Error).message}); write a readable file path`,
      );
    }
    if (!value) failOption(destination, `${secret}_file`, `${ref.file} is empty; write the secret into it`);
    return value;
  }
  if (required) {
    failOption(
      destination,
      secret,
      `the secret is required: write ${secret}_env: VAR_NAME or ${secret}_file: /path/to/file (never the value itself)`,
    );
  }
  return undefined;
}
