import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { destinationFinding, destinationNotification } from '../testing/sample.ts';
import { cefHeader, cefMessage, cefValue, CEF_VERSION, fittedSyslogLine, syslogLine } from './cef.ts';
import { createDestination } from './index.ts';

const live = () => new AbortController().signal;
const NOW = Date.UTC(2026, 11, 1, 8, 30, 0, 250);

describe('CEF', () => {
  it('escapes \\ and | in header fields, a line break there becomes a space', () => {
    expect(cefHeader('a|b\\c\nd\r\ne=f')).toBe('a\\|b\\\\c d e=f');
  });

  it('escapes \\ and = in extension values, line breaks as \\n and \\r', () => {
    expect(cefValue('a=b\\c|d\ne\rf')).toBe('a\\=b\\\\c|d\\ne\\rf');
  });

  it('builds CEF:0 with the finding in the header and the extension', () => {
    const f = destinationFinding({ severity: 'critical' });
    expect(cefMessage(f, 'security')).toBe(
      `CEF:0|aispm|aispm|${CEF_VERSION}|prompt_injection.indirect|Indirect prompt injection through tool output|10|` +
        `rt=${Math.floor(f.last_seen / 1000)} start=${Math.floor(f.first_seen / 1000)} end=${Math.floor(f.last_seen / 1000)} ` +
        `cnt=3 cat=content outcome=open externalId=${f.id} cs1Label=tenant cs1=acme cs2Label=asset cs2=acme/support/helper ` +
        `cs3Label=assetType cs3=agent cs4Label=frameworks cs4=LLM01:2025,ASI01,AML.T0051.001 cs5Label=route cs5=security ` +
        `cs6Label=evidence cs6=tool_output of search_docs: "ignore previous instructions" (score 0.97) cfp1Label=score cfp1=0.75 ` +
        `msg=Indirect prompt injection through tool output`,
    );
  });

  it('writes the RFC 5424 header: PRI from facility and severity, timestamp, hostname, app, procid, msgid, no SD', () => {
    const header = { facility: 16, hostname: 'alerter 1', appName: 'aispm', procId: '42', msgId: 'finding', time: NOW };
    // local0 (16) · 8 + crit (2)
    expect(syslogLine('critical', header, 'CEF:0|x')).toBe(
      '<130>1 2026-12-01T08:30:00.250Z alerter_1 aispm 42 finding - CEF:0|x',
    );
    expect(syslogLine('info', { ...header, facility: 4 }, 'm').startsWith('<38>1 ')).toBe(true);
  });

  it('fits a datagram by dropping evidence, then cutting msg', () => {
    const header = { facility: 16, hostname: 'h', appName: 'aispm', procId: '1', msgId: 'finding', time: NOW };
    const f = destinationFinding({ title: 'T'.repeat(3000), evidence: ['e'.repeat(500), 'f'.repeat(500)] });
    const line = fittedSyslogLine(f, 'r', header, 2048)!;
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(2048);
    expect(line).toContain('cs6= ');
    expect(line).toMatch(/\|T+…\|8\|/);
    expect(line).toMatch(/msg=T+…$/);
  });
});

describe('syslog destination', () => {
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  it('sends one UDP datagram per finding', async () => {
    const server = createSocket('udp4');
    server.bind(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => {
      server.close();
    });
    const got: string[] = [];
    server.on('message', (m) => got.push(m.toString('utf8')));
    const d = createDestination(
      {
        name: 'soc',
        kind: 'syslog',
        transport: 'udp',
        port: server.address().port,
        hostname: 'alerter-1',
        facility: 'local4',
      },
      {},
      { now: () => NOW },
    );
    closers.push(() => d.close());
    const findings = [destinationFinding(), destinationFinding({ rule: 'r2', severity: 'medium' })];
    expect(await d.send(destinationNotification(findings), live())).toMatchObject({ ok: true });
    await expect.poll(() => got.length).toBe(2);
    expect(got[0]).toMatch(
      new RegExp(`^<163>1 2026-12-01T08:30:00.250Z alerter-1 aispm ${process.pid} finding - CEF:0\\|aispm\\|`),
    );
    expect(got[1]).toMatch(/^<164>1 .*\|r2\|Indirect prompt injection through tool output\|5\|/);
  });

  async function tcpServer(): Promise<{ server: Server; port: number; frames: string[] }> {
    const frames: string[] = [];
    const server = createServer((socket) => {
      let buffer = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (;;) {
          const space = buffer.indexOf(0x20);
          if (space < 0) break;
          const length = Number(buffer.subarray(0, space).toString('ascii'));
          if (buffer.length < space + 1 + length) break;
          frames.push(buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
          buffer = buffer.subarray(space + 1 + length);
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { server, port: (server.address() as { port: number }).port, frames };
  }

  it('frames TCP messages with octet counting (RFC 6587), the length in bytes', async () => {
    const { port, frames } = await tcpServer();
    const d = createDestination({ name: 'soc', kind: 'syslog', transport: 'tcp', port }, {}, { now: () => NOW });
    closers.push(() => d.close());
    const f = destinationFinding({ title: 'Über | ünïcode\nline' });
    expect(await d.send(destinationNotification([f, destinationFinding({ rule: 'r2' })]), live())).toMatchObject({
      ok: true,
    });
    await expect.poll(() => frames.length).toBe(2);
    expect(frames[0]).toContain('|Über \\| ünïcode line|8|');
    expect(frames[0]).toContain('msg=Über | ünïcode\\nline');
  });

  it('a refused connection is retryable; it reconnects when the receiver is back', async () => {
    const { server, port, frames } = await tcpServer();
    const d = createDestination(
      { name: 'soc', kind: 'syslog', transport: 'tcp', port, timeout_ms: 500 },
      {},
      { now: () => NOW },
    );
    closers.push(() => d.close());
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const down = await d.send(destinationNotification([destinationFinding()]), live());
    expect(down).toMatchObject({ ok: false, retryable: true });
    expect((down as { reason: string }).reason).toMatch(/ECONNREFUSED/);
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    expect(await d.send(destinationNotification([destinationFinding()]), live())).toMatchObject({ ok: true });
    await expect.poll(() => frames.length).toBe(1);
  });

  it('checks its options', () => {
    expect(() => createDestination({ name: 'soc', kind: 'syslog', transport: 'quic' }, {})).toThrow(
      /destinations\.soc\.transport: .*udp.*tcp.*tls/,
    );
    expect(() =>
      createDestination({ name: 'soc', kind: 'syslog', transport: 'tls', ca_file: '/nonexistent.pem' }, {}),
    ).toThrow(/destinations\.soc\.ca_file: cannot read \/nonexistent.pem/);
  });
});
