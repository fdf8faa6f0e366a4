import type { Finding, Severity } from '@aispm/core';
import { truncate } from './text.ts';
import pkg from '../../package.json' with { type: 'json' };

/**
 * ArcSight Common Event Format (CEF 0) and the RFC 5424 syslog line that carries it.
 *
 * CEF:0|aispm|aispm|<version>|<signature id>|<name>|<severity 0-10>|<extension>
 * - header fields escape `\` and `|`; they cannot hold a line break (CEF has no escape
 *   for one there), so a line break becomes a space;
 * - extension values escape `\` and `=`, and a line break is written `\n` (`\r`);
 * - keys are CEF's own (rt, start, end, cnt, cat, outcome, externalId, msg, cs1..cs6
 *   with their labels, cfp1 with its label).
 */
export const CEF_VENDOR = 'aispm';
export const CEF_PRODUCT = 'aispm';
export const CEF_VERSION = pkg.version;

export const CEF_SEVERITY: Readonly<Record<Severity, number>> = { info: 1, low: 3, medium: 5, high: 8, critical: 10 };

/** syslog severities (RFC 5424 §6.2.1) by finding severity. */
export const SYSLOG_SEVERITY: Readonly<Record<Severity, number>> = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };

/** Facility names of RFC 5424 §6.2.1, by number. */
export const FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type Facility = keyof typeof FACILITIES;

export function cefHeader(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, ' ');
}

export function cefValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

export interface CefParts {
  evidence: readonly string[];
  msg: string;
  /** The header's Name: the title, cut when a message must shrink. */
  name: string;
}

/** The extension's pairs for a finding, in order; `parts` lets the caller shrink evidence and msg to fit a datagram. */
export function cefExtension(finding: Finding, route: string, parts: CefParts): [string, string][] {
  const frameworks = [...finding.owasp_llm, ...finding.owasp_agentic, ...finding.mitre_atlas].join(',');
  const pairs: [string, string][] = [
    ['rt', String(Math.floor(finding.last_seen / 1000))],
    ['start', String(Math.floor(finding.first_seen / 1000))],
    ['end', String(Math.floor(finding.last_seen / 1000))],
    ['cnt', String(finding.occurrences)],
    ['cat', finding.type],
    ['outcome', finding.status],
    ['externalId', finding.id],
    ['cs1Label', 'tenant'],
    ['cs1', finding.tenant],
    ['cs2Label', 'asset'],
    ['cs2', finding.asset],
    ['cs3Label', 'assetType'],
    ['cs3', finding.asset_type],
    ['cs4Label', 'frameworks'],
    ['cs4', frameworks],
    ['cs5Label', 'route'],
    ['cs5', route],
    ['cs6Label', 'evidence'],
    ['cs6', parts.evidence.join('\n')],
    ['cfp1Label', 'score'],
    ['cfp1', String(finding.score)],
    ['msg', parts.msg],
  ];
  return pairs;
}

export function cefMessage(
  finding: Finding,
  route: string,
  parts: CefParts = { evidence: finding.evidence, msg: finding.title, name: finding.title },
): string {
  const header = [
    'CEF:0',
    cefHeader(CEF_VENDOR),
    cefHeader(CEF_PRODUCT),
    cefHeader(CEF_VERSION),
    cefHeader(finding.rule || finding.type),
    cefHeader(parts.name),
    String(CEF_SEVERITY[finding.severity]),
  ].join('|');
  const extension = cefExtension(finding, route, parts)
    .map(([k, v]) => `${k}=${cefValue(v)}`)
    .join(' ');
  return `${header}|${extension}`;
}

export interface SyslogHeader {
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** ms since the epoch. */
  time: number;
}

/** PRINTUSASCII without spaces, as RFC 5424 header fields must be; `-` when empty. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean || '-';
}

/** The RFC 5424 line: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG (no structured data). */
export function syslogLine(severity: Severity, header: SyslogHeader, msg: string): string {
  const pri = header.facility * 8 + SYSLOG_SEVERITY[severity];
  return `<${pri}>1 ${new Date(header.time).toISOString()} ${headerField(header.hostname, 255)} ${headerField(
    header.appName,
    48,
  )} ${headerField(header.procId, 128)} ${headerField(header.msgId, 32)} - ${msg}`;
}

/**
 * The line for a finding within `maxBytes` (a datagram's bound): evidence is dropped
 * line by line, then the msg is cut; null when even that does not fit.
 */
export function fittedSyslogLine(
  finding: Finding,
  route: string,
  header: SyslogHeader,
  maxBytes: number,
): string | null {
  let evidence = [...finding.evidence];
  let msg = finding.title;
  let name = finding.title;
  for (;;) {
    const line = syslogLine(finding.severity, header, cefMessage(finding, route, { evidence, msg, name }));
    const over = Buffer.byteLength(line) - maxBytes;
    if (over <= 0) return line;
    if (evidence.length > 0) {
      evidence = evidence.slice(0, -1);
    } else if (msg.length > 16 || name.length > 16) {
      // Each cut character frees at least one byte, so cutting `over` from the longer one converges.
      if (msg.length >= name.length) msg = truncate(msg, Math.max(16, msg.length - over - 1));
      else name = truncate(name, Math.max(16, name.length - over - 1));
    } else {
      return null;
    }
  }
}
