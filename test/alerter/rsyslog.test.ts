import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CEF_VERSION,
  cefMessage,
  createDestination,
  destinationFinding,
  destinationNotification,
  startRsyslog,
  type Destination,
  type RsyslogHarness,
  type RsyslogRecord,
} from '@aispm/alerter';

/**
 * Our syslog/CEF messages into Debian's real rsyslogd over UDP, TCP with octet
 * counting and TLS; what rsyslog parsed (its RFC 5424 parser, and liblognorm's CEF
 * parser through mmnormalize) is checked field by field. rsyslogd not starting is a
 * failure that says what to install, never a skip.
 */
const NOW = Date.UTC(2026, 11, 1, 9, 15, 30, 125);

describe('syslog destination → rsyslog (Debian rsyslogd, real)', () => {
  let rsyslog: RsyslogHarness | undefined;
  let startError: unknown;
  const destinations: Destination[] = [];

  // A start failure fails every test with what to install (a failing beforeAll would report them as skipped).
  beforeAll(async () => {
    try {
      rsyslog = await startRsyslog();
    } catch (err) {
      startError = err;
    }
  });
  const started = (): RsyslogHarness => {
    if (!rsyslog) throw startError instanceof Error ? startError : new Error(String(startError));
    return rsyslog;
  };
  afterAll(async () => {
    for (const d of destinations) await d.close();
    await rsyslog?.stop();
  });

  const plain = destinationFinding();
  const tricky = destinationFinding({
    rule: 'prompt_injection.direct',
    severity: 'critical',
    title: 'Ignore | all \\ previous = rules\nand obey',
    evidence: ['said "a=b" | c \\ d', 'second line'],
  });
  const resolved = destinationFinding({
    rule: 'pii.email',
    severity: 'medium',
    status: 'resolved',
    title: 'PII: e-mail address',
  });

  it.each(['udp', 'tcp', 'tls'] as const)('rsyslog parses what we send over %s, field by field', async (transport) => {
    const rsyslog = started();
    const port = transport === 'udp' ? rsyslog.udpPort : transport === 'tcp' ? rsyslog.tcpPort : rsyslog.tlsPort;
    const destination = createDestination(
      {
        name: `soc-${transport}`,
        kind: 'syslog',
        transport,
        host: '127.0.0.1',
        port,
        hostname: 'alerter-1',
        facility: 'local4',
        ...(transport === 'tls' ? { ca_file: rsyslog.caFile } : {}),
      },
      {},
      { now: () => NOW },
    );
    destinations.push(destination);
    const before = (await rsyslog.records()).length;
    const result = await destination.send(
      destinationNotification([plain, tricky, resolved]),
      new AbortController().signal,
    );
    expect(result).toMatchObject({ ok: true });
    const records = (await rsyslog.waitFor(before + 3)).slice(before);
    expect(records.map((r) => r.input)).toEqual([transport, transport, transport]);

    const byRule = new Map(records.map((r) => [r.cef?.SignatureID, r]));
    for (const [finding, pri, severity, cefSeverity] of [
      [plain, 163, 3, '8'],
      [tricky, 162, 2, '10'],
      [resolved, 164, 4, '5'],
    ] as const) {
      const r: RsyslogRecord | undefined = byRule.get(finding.rule);
      expect(r, `rsyslog parsed the CEF of ${finding.rule}`).toBeDefined();
      // RFC 5424 header as rsyslog parsed it.
      expect(r!.pri).toBe(pri);
      expect(r!.facility).toBe(20);
      expect(r!.severity).toBe(severity);
      expect(r!.timestamp).toBe('2026-12-01T09:15:30.125Z');
      expect(r!.hostname).toBe('alerter-1');
      expect(r!.app).toBe('aispm');
      expect(r!.procid).toBe(String(process.pid));
      expect(r!.msgid).toBe('finding');
      expect(r!.structuredData).toBe('-');
      expect(r!.msg).toBe(cefMessage(finding, 'security'));
      // CEF header.
      expect(r!.cef).toMatchObject({
        DeviceVendor: 'aispm',
        DeviceProduct: 'aispm',
        DeviceVersion: CEF_VERSION,
        SignatureID: finding.rule,
        Name: finding.title.replace(/\n/g, ' '),
        Severity: cefSeverity,
      });
      // CEF extension, unescaped by liblognorm back to the finding's values.
      expect(r!.cef!.Extensions).toEqual({
        rt: String(Math.floor(finding.last_seen / 1000)),
        start: String(Math.floor(finding.first_seen / 1000)),
        end: String(Math.floor(finding.last_seen / 1000)),
        cnt: '3',
        cat: 'content',
        outcome: finding.status,
        externalId: finding.id,
        cs1Label: 'tenant',
        cs1: 'acme',
        cs2Label: 'asset',
        cs2: 'acme/support/helper',
        cs3Label: 'assetType',
        cs3: 'agent',
        cs4Label: 'frameworks',
        cs4: 'LLM01:2025,ASI01,AML.T0051.001',
        cs5Label: 'route',
        cs5: 'security',
        cs6Label: 'evidence',
        cs6: finding.evidence.join('\n'),
        cfp1Label: 'score',
        cfp1: '0.75',
        msg: finding.title,
      });
    }
    expect(byRule.get(tricky.rule)!.cef!.Name).toBe('Ignore | all \\ previous = rules and obey');
    expect(byRule.get(tricky.rule)!.cef!.Extensions.msg).toBe('Ignore | all \\ previous = rules\nand obey');
  });

  it('over TLS, a receiver certificate that does not verify is retryable and says to set ca_file', async () => {
    const rsyslog = started();
    const destination = createDestination(
      { name: 'soc-tls-noca', kind: 'syslog', transport: 'tls', host: '127.0.0.1', port: rsyslog.tlsPort },
      {},
    );
    destinations.push(destination);
    const result = await destination.send(destinationNotification([plain]), new AbortController().signal);
    expect(result).toMatchObject({ ok: false, retryable: true });
    expect((result as { reason: string }).reason).toMatch(/certificate did not verify; set ca_file/);
  });
});
