import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Finding } from '@aispm/core';
import { z } from 'zod';
import { matchesAll, parseMatcher, type Matcher as RouteMatcher } from '../routes/index.ts';

/**
 * Silences made through the API, as Alertmanager's: label matchers and a time window.
 * A silence belongs to the tenant of the key that made it and mutes only that
 * tenant's findings (tenants are walls). Applied when a notification is about to
 * go out, so one that expires lets the next notification of a still-firing group through.
 */
export interface Matcher {
  name: string;
  value: string;
  /** value is a regular expression, anchored at both ends (default false). */
  isRegex: boolean;
  /** true: the label must match; false: it must not (default true). */
  isEqual: boolean;
}

export interface Silence {
  id: string;
  tenant: string;
  matchers: Matcher[];
  /** Milliseconds since the epoch. */
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

const MAX_MATCHERS = 32;
const MAX_VALUE = 1024;

export const silenceInput = z.object({
  matchers: z
    .array(
      z.object({
        name: z.string().min(1).max(64),
        value: z.string().max(MAX_VALUE),
        isRegex: z.boolean().default(false),
        isEqual: z.boolean().default(true),
      }),
    )
    .min(1)
    .max(MAX_MATCHERS),
  startsAt: z.iso.datetime({ offset: true }).optional(),
  endsAt: z.iso.datetime({ offset: true }),
  createdBy: z.string().min(1).max(256),
  comment: z.string().max(4096).default(''),
});

export type SilenceInput = z.input<typeof silenceInput>;

/** Checks a silence's input: a result, since bad input is expected from an API. */
export function parseSilence(
  body: unknown,
  tenant: string,
  now: number,
): { ok: true; silence: Silence } | { ok: false; reason: string } {
  const parsed = silenceInput.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` };
  }
  const { matchers, createdBy, comment } = parsed.data;
  const startsAt = parsed.data.startsAt === undefined ? now : Date.parse(parsed.data.startsAt);
  const endsAt = Date.parse(parsed.data.endsAt);
  if (endsAt <= startsAt || endsAt <= now)
    return { ok: false, reason: 'endsAt must be after startsAt and in the future' };
  for (const m of matchers) {
    const compiled = compileMatcher(m);
    if (!compiled.ok) return { ok: false, reason: `matchers: ${compiled.reason}` };
  }
  return { ok: true, silence: { id: randomUUID(), tenant, matchers, startsAt, endsAt, createdBy, comment } };
}

/** The API's matcher as the routes file writes it, for the routes' own parser: one matcher syntax and semantics. */
function compileMatcher(m: Matcher): { ok: true; matcher: RouteMatcher } | { ok: false; reason: string } {
  const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  return parseMatcher(`${m.name}${op}${JSON.stringify(m.value)}`);
}

function compileAll(matchers: readonly Matcher[]): RouteMatcher[] {
  return matchers.flatMap((m) => {
    const c = compileMatcher(m);
    return c.ok ? [c.matcher] : [];
  });
}

/** Whether `silence` mutes `finding` at `now`: same tenant, inside its window, every matcher holds. */
export function matches(
  silence: Silence,
  finding: Finding,
  now: number,
  compiled = compileAll(silence.matchers),
): boolean {
  if (finding.tenant !== silence.tenant || now < silence.startsAt || now >= silence.endsAt) return false;
  return matchesAll(compiled, finding);
}

/** What the service asks of silences: whether a finding is muted now. */
export interface SilenceFilter {
  mutes(finding: Finding, now: number): boolean;
}

/**
 * The API's silences, bounded per tenant, kept in a JSON file when one is given so a
 * restart keeps them. Expired ones are dropped as they are met.
 */
export class SilenceStore implements SilenceFilter {
  readonly #byTenant = new Map<string, Map<string, Silence>>();
  readonly #compiled = new Map<string, RouteMatcher[]>();

  readonly options: { maxPerTenant: number; file?: string | null };

  constructor(options: { maxPerTenant: number; file?: string | null }) {
    this.options = options;
    if (options.file) this.#load(options.file);
  }

  add(silence: Silence, now: number): { ok: true } | { ok: false; full: number } {
    const mine = this.#tenant(silence.tenant, now);
    if (mine.size >= this.options.maxPerTenant) return { ok: false, full: this.options.maxPerTenant };
    mine.set(silence.id, silence);
    this.#compiled.set(silence.id, compileAll(silence.matchers));
    this.#save();
    return { ok: true };
  }

  list(tenant: string, now: number): Silence[] {
    return [...this.#tenant(tenant, now).values()];
  }

  /** Expires a silence at once; false when the tenant has no such silence. */
  expire(tenant: string, id: string, now: number): boolean {
    const deleted = this.#tenant(tenant, now).delete(id);
    this.#compiled.delete(id);
    if (deleted) this.#save();
    return deleted;
  }

  mutes(finding: Finding, now: number): boolean {
    const mine = this.#byTenant.get(finding.tenant);
    if (!mine) return false;
    for (const s of mine.values()) if (matches(s, finding, now, this.#compiled.get(s.id))) return true;
    return false;
  }

  #tenant(tenant: string, now: number): Map<string, Silence> {
    let mine = this.#byTenant.get(tenant);
    if (!mine) {
      mine = new Map();
      this.#byTenant.set(tenant, mine);
    }
    for (const [id, s] of mine) {
      if (s.endsAt > now) continue;
      mine.delete(id);
      this.#compiled.delete(id);
    }
    return mine;
  }

  #load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    const saved = JSON.parse(text) as Silence[];
    const now = Date.now();
    for (const s of saved) {
      if (s.endsAt <= now) continue;
      this.#tenant(s.tenant, now).set(s.id, s);
      this.#compiled.set(s.id, compileAll(s.matchers));
    }
  }

  #save(): void {
    const file = this.options.file;
    if (!file) return;
    const all = [...this.#byTenant.values()].flatMap((m) => [...m.values()]);
    mkdirSync(dirname(file), { recursive: true });
    // Written aside and renamed: a crash mid-write leaves the previous file whole.
    writeFileSync(`${file}.tmp`, JSON.stringify(all));
    renameSync(`${file}.tmp`, file);
  }
}

/** Parses `label=value`, `label!=value`, `label=~regex` or `label!~regex` (the CLI's form of a matcher). */
export function parseSilenceMatcher(text: string): { ok: true; matcher: Matcher } | { ok: false; reason: string } {
  const m = /^([a-z_]{1,64})(=~|!~|!=|=)(.*)$/s.exec(text);
  if (!m) return { ok: false, reason: 'expected label=value, label!=value, label=~regex or label!~regex' };
  const [, name, op, value] = m as unknown as [string, string, string, string];
  return { ok: true, matcher: { name, value, isRegex: op.includes('~'), isEqual: !op.startsWith('!') } };
}
