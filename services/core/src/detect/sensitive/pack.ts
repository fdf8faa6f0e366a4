import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PII_KINDS, SECRET_KINDS, type RedactionKind } from '../../content/redaction-rules.ts';
import { RULES_DIR, RulePackError } from '../rule-pack.ts';
import { CONTENT_CHANNELS, SEVERITIES, type ContentChannel, type Severity } from '../types.ts';

/**
 * The sensitive-data rule pack: what each kind the redaction engine finds
 * (content/redaction-rules.ts) is worth as a detection. Rules are data, versioned,
 * under rules/sensitive/, validated at load (zod for the shape, then the pack as a
 * whole: every engine kind covered once, ids named after their family and kind,
 * address ranges well formed), so a bad pack stops start-up with the file and the
 * rule named.
 *
 * The patterns themselves stay in the engine, shared with redaction: what
 * redaction masks and what detection reports are the same findings. Detection
 * leaves out only what the pack's `ignore` names: published example values (test
 * card numbers, the AWS documentation keys), placeholders (`AKIAXXXXXXXXXXXXXXXX`,
 * `password: ********`), references in code and configuration (`password:
 * ${DB_PASSWORD}`, `token = request.token`) for rules that ask for it, and IPv4
 * addresses in reserved ranges (private, loopback, documentation).
 */
export const DEFAULT_SENSITIVE_PACK = join(RULES_DIR, 'sensitive/sensitive.v1.json');

const ALL_KINDS = [...PII_KINDS, ...SECRET_KINDS] as const;

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

const ruleSchema = z
  .object({
    id: z.string().regex(/^(?:pii|secret)\.[a-z0-9_]{2,60}$/, '`pii.<kind>` or `secret.<kind>`'),
    kind: z.enum(ALL_KINDS),
    title: z.string().min(3).max(200),
    severity: z.enum(SEVERITIES),
    confidence: z.number().min(0).max(1),
    owaspLlm: z.string().regex(/^LLM(?:0[1-9]|10)$/),
    atlas: z.string().regex(/^AML\.T\d{4}(?:\.\d{3})?$/),
    enabled: z.boolean(),
    /** The severity in a channel where it differs (a secret in a completion or in tool arguments is worse). */
    channelSeverity: z.partialRecord(z.enum(CONTENT_CHANNELS), z.enum(SEVERITIES)).optional(),
    /** Leave out values that are references, not secrets: `${VAR}`, `<password>`, `config.token`, `None`. */
    ignoreReferences: z.boolean().optional(),
  })
  .strict();

const packSchema = z
  .object({
    pack: z.string().regex(/^[a-z0-9_-]+$/),
    version: z.number().int().min(1),
    description: z.string().optional(),
    ignore: z
      .object({
        /** Published example values, compared without separators (spaces, dots, dashes) and case. */
        values: z.array(z.string().min(4).max(200)),
        /** IPv4 ranges (CIDR) whose addresses are not reported. */
        ipv4Ranges: z.array(z.string().regex(CIDR, 'an IPv4 range a.b.c.d/n')),
        /** A secret holding one of these (case-insensitive) is a placeholder. */
        placeholderMarkers: z.array(z.string().min(1).max(40)),
      })
      .strict(),
    rules: z.array(ruleSchema).min(1),
  })
  .strict();

export type SensitiveRuleSource = z.infer<typeof ruleSchema>;
export type SensitivePackSource = z.infer<typeof packSchema>;

export type SensitiveFamily = 'pii' | 'secret';

export interface SensitiveRule {
  id: string;
  kind: RedactionKind;
  family: SensitiveFamily;
  title: string;
  severity: Severity;
  confidence: number;
  owaspLlm: string;
  atlas: string;
  enabled: boolean;
  /** The severity per channel, every channel present. */
  severityIn: Readonly<Record<ContentChannel, Severity>>;
  ignoreReferences: boolean;
}

export interface SensitivePack {
  pack: string;
  version: number;
  file: string;
  rules: SensitiveRule[];
  /** The rule of each engine kind. */
  byKind: ReadonlyMap<RedactionKind, SensitiveRule>;
  /** Published example values, normalised (ignoredValue). */
  ignoredValues: ReadonlySet<string>;
  /** [network, mask] of each ignored IPv4 range, as unsigned 32-bit numbers. */
  ipv4Ranges: readonly (readonly [number, number])[];
  /** Lower-cased. */
  placeholderMarkers: readonly string[];
}

/** How example values are compared: letters and digits only, upper case. */
export const ignoredValue = (value: string): string => value.replace(/[^A-Za-z0-9]/g, '').toUpperCase();

const familyOf = (kind: RedactionKind): SensitiveFamily =>
  (PII_KINDS as readonly string[]).includes(kind) ? 'pii' : 'secret';

/** Reads, validates and compiles a sensitive-data rule pack file. */
export function loadSensitivePack(file: string = DEFAULT_SENSITIVE_PACK): SensitivePack {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RulePackError(file, `cannot read it as JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return compileSensitivePack(raw, file);
}

/** Validates and compiles a parsed sensitive-data rule pack; `file` names it in errors. */
export function compileSensitivePack(raw: unknown, file = '<inline>'): SensitivePack {
  const parsed = packSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path;
    const rules = (raw as { rules?: { id?: unknown }[] } | null)?.rules;
    const ruleIndex = path[0] === 'rules' && typeof path[1] === 'number' ? path[1] : -1;
    const ruleId = ruleIndex >= 0 ? rules?.[ruleIndex]?.id : undefined;
    const where = ruleIndex >= 0 ? `rule ${typeof ruleId === 'string' ? `"${ruleId}"` : `#${ruleIndex}`}` : 'pack';
    const field = path.slice(ruleIndex >= 0 ? 2 : 0).join('.');
    throw new RulePackError(file, `${where}${field ? `, field ${field}` : ''}: ${issue.message}`);
  }
  const source = parsed.data;
  const byKind = new Map<RedactionKind, SensitiveRule>();
  const ids = new Set<string>();
  const rules: SensitiveRule[] = [];
  for (const rule of source.rules) {
    const family = familyOf(rule.kind);
    if (rule.id !== `${family}.${rule.kind}`) {
      throw new RulePackError(file, `rule "${rule.id}": a ${rule.kind} rule is named "${family}.${rule.kind}"`);
    }
    if (ids.has(rule.id)) throw new RulePackError(file, `rule "${rule.id}": the id is used twice`);
    ids.add(rule.id);
    const severityIn = Object.fromEntries(
      CONTENT_CHANNELS.map((channel) => [channel, rule.channelSeverity?.[channel] ?? rule.severity]),
    ) as Record<ContentChannel, Severity>;
    const compiled: SensitiveRule = {
      id: rule.id,
      kind: rule.kind,
      family,
      title: rule.title,
      severity: rule.severity,
      confidence: rule.confidence,
      owaspLlm: rule.owaspLlm,
      atlas: rule.atlas,
      enabled: rule.enabled,
      severityIn,
      ignoreReferences: rule.ignoreReferences ?? false,
    };
    rules.push(compiled);
    byKind.set(rule.kind, compiled);
  }
  const missing = ALL_KINDS.filter((kind) => !byKind.has(kind));
  if (missing.length > 0) {
    throw new RulePackError(
      file,
      `no rule for ${missing.map((k) => `"${k}"`).join(', ')}: every kind the redaction engine finds needs one (set "enabled": false to leave it out of detection)`,
    );
  }
  const ipv4Ranges = source.ignore.ipv4Ranges.map((range): [number, number] => {
    const [, a, b, c, d, bits] = CIDR.exec(range)!.map(Number) as [number, number, number, number, number, number];
    if ([a, b, c, d].some((octet) => octet > 255) || bits > 32) {
      throw new RulePackError(file, `ignore.ipv4Ranges: "${range}" is not an IPv4 range`);
    }
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const network = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    if ((network & mask) >>> 0 !== network) {
      throw new RulePackError(file, `ignore.ipv4Ranges: "${range}" has host bits set (write its network address)`);
    }
    return [network, mask];
  });
  return {
    pack: source.pack,
    version: source.version,
    file,
    rules,
    byKind,
    ignoredValues: new Set(source.ignore.values.map(ignoredValue)),
    ipv4Ranges,
    placeholderMarkers: source.ignore.placeholderMarkers.map((m) => m.toLowerCase()),
  };
}
