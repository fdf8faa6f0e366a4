import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { findSensitive, replaceFindings, type Finding } from './redact.ts';
import { PII_KINDS, placeholder, type RedactionKind } from './redaction-rules.ts';

/**
 * What happens to PII and secrets found in identifier fields (app, agent, user,
 * identity, scopes, conversation, tool, model, error type, finish reasons, ...):
 * - pseudonymise (default): PII becomes `[EMAIL:<16 hex>]`, a keyed HMAC of tenant
 *   and value, stable so per-user baselines still work; secrets are masked;
 * - mask: PII and secrets become placeholders (`[EMAIL]`, `[SECRET:...]`), no key needed;
 * - keep: values are kept (still cleaned of control characters and bounded).
 */
export const IDENTIFIER_POLICIES = ['pseudonymise', 'mask', 'keep'] as const;
export type IdentifierPolicy = (typeof IDENTIFIER_POLICIES)[number];

export interface IdentifierOptions {
  policy: IdentifierPolicy;
  /** The pseudonym key: AISPM_IDENTIFIER_HMAC_KEY, else derived from AISPM_CAPTURE_HMAC_KEY; null for the key file. */
  hmacKey: string | null;
  /** Where a random key is kept when none is configured (created on first use, mode 0600); null for none. */
  keyFile: string | null;
}

/** Characters kept of an identifier, after cleaning and redaction: the event schema's bound (ClickHouse keys, dashboard labels). */
export const MAX_IDENTIFIER_LENGTH = 256;

/** Characters of a raw identifier examined: a secret cut before redaction could escape its pattern. */
const MAX_IDENTIFIER_INPUT = 4096;

/**
 * Removed from identifiers: C0 and C1 controls and DEL; bidi embeddings,
 * overrides, isolates and marks (Trojan Source); zero-width and invisible
 * characters; Unicode tag characters and variation selectors (used to smuggle
 * hidden text); interlinear annotation marks; lone surrogates. Line breaks and
 * tabs become a space first.
 */
/* eslint-disable no-control-regex, no-misleading-character-class -- these are the characters to remove */
const INVISIBLE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]|\udb40[\udc00-\udc7f]|\udb40[\udd00-\uddef]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/* eslint-enable no-control-regex, no-misleading-character-class */

/**
 * Printable ASCII words separated by single spaces: what cleaning leaves as it is (no control,
 * invisible or non-ASCII character to remove or normalise, no run of spaces, nothing to trim).
 */
const PLAIN_IDENTIFIER = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** An identifier as shown and stored: no invisible or control characters, whitespace collapsed, NFC, trimmed. */
export function cleanIdentifier(value: string): string {
  if (value.length <= MAX_IDENTIFIER_INPUT && PLAIN_IDENTIFIER.test(value)) return value;
  return value
    .slice(0, MAX_IDENTIFIER_INPUT)
    .replace(/[\t\n\v\f\r\u0085\u2028\u2029]+/g, ' ')
    .replace(INVISIBLE, '')
    .normalize('NFC')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

/**
 * The raw value with what cleaning removes shown as `\u{...}` escapes, bounded:
 * what `full` capture keeps of an identifier that cleaning or redaction changed.
 */
export function escapeIdentifier(value: string, maxLength = MAX_IDENTIFIER_LENGTH): string {
  // Printable ASCII holds nothing either replacement below escapes.
  if (value.length <= MAX_IDENTIFIER_INPUT && PRINTABLE_ASCII.test(value)) return cutIdentifier(value, maxLength);
  const escaped = value
    .slice(0, MAX_IDENTIFIER_INPUT)
    .replace(INVISIBLE, (char) => `\\u{${char.codePointAt(0)!.toString(16)}}`)
    .replace(/[\u0085\u2028\u2029]/g, (char) => `\\u{${char.codePointAt(0)!.toString(16)}}`);
  return cutIdentifier(escaped, maxLength);
}

/** At most `maxLength` UTF-16 units, never half a surrogate pair. */
export function cutIdentifier(value: string, maxLength = MAX_IDENTIFIER_LENGTH): string {
  if (value.length <= maxLength) return value;
  const last = value.charCodeAt(maxLength - 1);
  return value.slice(0, last >= 0xd800 && last <= 0xdbff ? maxLength - 1 : maxLength);
}

/** One identifier under the policy; `''` in and out stays `''` (the caller turns it into null). */
export interface IdentifierProtector {
  (value: string, options?: { keepKinds?: readonly RedactionKind[] }): string;
}

/**
 * The function that makes one tenant's identifiers safe to store: cleaned,
 * PII pseudonymised (or masked), secrets masked, bounded to MAX_IDENTIFIER_LENGTH.
 * The pseudonym of a value depends only on the key, the tenant, the kind and the
 * normalised value (an email lower-cased, a phone number's digits), so the same
 * user reads the same in every event, from every gateway sharing the key.
 */
export function identifierProtector(tenant: string, options: IdentifierOptions | undefined): IdentifierProtector {
  const policy = options?.policy ?? 'pseudonymise';
  // The tenant is delimited by its length, so no tenant's entries can be read as another's.
  const scope = `${cacheScope(options)}\u0000${tenant.length}\u0000${tenant}\u0000`;
  let key: string | null | undefined;
  const pseudonym = (finding: Finding): string => {
    key ??= policy === 'pseudonymise' ? identifierKey(options) : null;
    if (key === null) return placeholder(finding.kind);
    const digest = createHmac('sha256', key)
      .update(`${tenant}\u0000${finding.kind}\u0000${normalise(finding)}`, 'utf8')
      .digest('hex');
    return `[${finding.kind.toUpperCase()}:${digest.slice(0, 16)}]`;
  };
  const protect = (value: string, keep: readonly RedactionKind[]): string => {
    const cleaned = cleanIdentifier(value);
    if (cleaned === '' || policy === 'keep') return cutIdentifier(cleaned);
    const findings = findSensitive(cleaned).filter((finding) => !keep.includes(finding.kind));
    const safe = replaceFindings(cleaned, findings, (finding) =>
      (PII_KINDS as readonly string[]).includes(finding.kind) ? pseudonym(finding) : placeholder(finding.kind),
    );
    return cutIdentifier(safe);
  };
  return (value, call = {}) => {
    const keep = call.keepKinds ?? [];
    if (value.length > MAX_CACHED_INPUT) return protect(value, keep);
    const within = keep.length === 0 ? scope : `${scope}${keep.join(',')}`;
    const cached = identifierCache.get(within, value);
    if (cached !== undefined) return cached;
    const safe = protect(value, keep);
    identifierCache.set(within, value, safe);
    return safe;
  };
}

/** Raw identifiers longer than this are protected without the cache (bounds the cache's memory). */
export const MAX_CACHED_INPUT = 256;

/**
 * Values by scope and key, at most `2 × generation` entries in all: new entries
 * go into the young generation; when it holds `generation` entries it becomes
 * the old one and the old one is dropped. An entry read from the old generation
 * moves back into the young one, so what is used keeps its place (an LRU
 * without per-read bookkeeping). Two levels, so a lookup hashes the key as it
 * came (no concatenated string per lookup).
 */
export class BoundedCache<V> {
  readonly generation: number;
  #young = new Map<string, Map<string, V>>();
  #youngSize = 0;
  #old = new Map<string, Map<string, V>>();
  #oldSize = 0;

  constructor(generation: number) {
    this.generation = generation;
  }

  get size(): number {
    return this.#youngSize + this.#oldSize;
  }

  get(scope: string, key: string): V | undefined {
    const young = this.#young.get(scope)?.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(scope)?.get(key);
    if (old !== undefined) this.set(scope, key, old);
    return old;
  }

  set(scope: string, key: string, value: V): void {
    if (this.#youngSize >= this.generation) {
      this.#old = this.#young;
      this.#oldSize = this.#youngSize;
      this.#young = new Map();
      this.#youngSize = 0;
    }
    let entries = this.#young.get(scope);
    if (entries === undefined) this.#young.set(scope, (entries = new Map<string, V>()));
    if (!entries.has(key)) this.#youngSize++;
    entries.set(key, value);
  }

  clear(): void {
    this.#young = new Map();
    this.#old = new Map();
    this.#youngSize = this.#oldSize = 0;
  }
}

/**
 * Protected identifiers by scope (options and tenant), keep-kinds and raw value.
 * Identifiers repeat enormously (the same apps, agents, models, providers and
 * users in span after span), and a result depends on nothing else: the key is
 * fixed per options for the life of the process (identifierKey).
 */
export const identifierCache = new BoundedCache<string>(2048);

/** Ids of the identifier options seen, with what they held then: an options object changed since gets a new id. */
const scopes = new WeakMap<
  object,
  { id: number; policy: IdentifierPolicy; hmacKey: string | null; keyFile: string | null }
>();
const NO_OPTIONS = {};
let lastScope = 0;

function cacheScope(options: IdentifierOptions | undefined): number {
  const holder = options ?? NO_OPTIONS;
  const policy = options?.policy ?? 'pseudonymise';
  const hmacKey = options?.hmacKey ?? null;
  const keyFile = options?.keyFile ?? null;
  const seen = scopes.get(holder);
  if (seen !== undefined && seen.policy === policy && seen.hmacKey === hmacKey && seen.keyFile === keyFile) {
    return seen.id;
  }
  const id = ++lastScope;
  scopes.set(holder, { id, policy, hmacKey, keyFile });
  return id;
}

function normalise(finding: Finding): string {
  switch (finding.kind) {
    case 'phone':
    case 'credit_card':
    case 'us_ssn':
      return finding.value.replace(/\D/g, '');
    case 'iban':
      return finding.value.replace(/[^A-Za-z0-9]/g, '').toUpperCase();
    default:
      return finding.value.toLowerCase();
  }
}

/** Keys read from key files, by path: read (or created) once per process. */
const keyFiles = new Map<string, string | null>();

/**
 * The configured key, else the data folder's key file, created with a random
 * key on first use. Null when neither can be had (a read-only folder): PII is
 * then masked rather than pseudonymised, never stored as it is.
 */
export function identifierKey(options: IdentifierOptions | undefined): string | null {
  if (options?.hmacKey) return options.hmacKey;
  const path = options?.keyFile;
  if (!path) return null;
  if (!keyFiles.has(path)) keyFiles.set(path, readOrCreateKey(path));
  return keyFiles.get(path) ?? null;
}

function readOrCreateKey(path: string): string | null {
  const read = (): string | null => {
    try {
      const key = readFileSync(path, 'utf8').trim();
      return key.length >= 16 ? key : null;
    } catch {
      return null;
    }
  };
  const existing = read();
  if (existing !== null) return existing;
  try {
    mkdirSync(dirname(path), { recursive: true });
    // `wx`: when another process created it meanwhile, theirs wins and is read below.
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch {
    // Exists already, or cannot be written: read whatever is there.
  }
  return read();
}

/** The identifier key derived from the capture HMAC key, so one configured secret serves both. */
export function deriveIdentifierKey(captureHmacKey: string): string {
  return createHmac('sha256', captureHmacKey).update('aispm identifier pseudonyms v1', 'utf8').digest('hex');
}
