import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

/**
 * Debian's rsyslogd, started on loopback with a generated configuration, as a real
 * syslog receiver for tests and the demo: imudp, imtcp plain (octet counting) and
 * imtcp over TLS (the gtls driver of rsyslog-gnutls, with a throwaway CA and server
 * certificate made by openssl), every message parsed by mmnormalize's CEF parser
 * (liblognorm) and written as one JSON line with the fields rsyslog parsed.
 */
export const RSYSLOG_INSTALL_HINT =
  "install Debian's rsyslog with TLS: apt-get install -y rsyslog rsyslog-gnutls (and openssl), or set RSYSLOGD to the rsyslogd binary";

/** One message as rsyslog parsed it. */
export interface RsyslogRecord {
  /** Which input took it: udp, tcp or tls. */
  input: string;
  pri: number;
  facility: number;
  severity: number;
  timestamp: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  structuredData: string;
  msg: string;
  /** liblognorm's CEF parse of msg, or null when it did not parse. */
  cef: {
    DeviceVendor: string;
    DeviceProduct: string;
    DeviceVersion: string;
    SignatureID: string;
    Name: string;
    Severity: string;
    Extensions: Record<string, string>;
  } | null;
}

export interface RsyslogHarness {
  udpPort: number;
  tcpPort: number;
  tlsPort: number;
  /** The CA that signed rsyslog's certificate: ca_file of a tls syslog destination. */
  caFile: string;
  dir: string;
  records(): Promise<RsyslogRecord[]>;
  /** Waits until at least `count` records are written, or fails with what rsyslog said. */
  waitFor(count: number, timeoutMs?: number): Promise<RsyslogRecord[]>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

async function makeCertificates(dir: string): Promise<void> {
  const openssl = async (...args: string[]) => {
    try {
      await run('openssl', args, { cwd: dir });
    } catch (err) {
      throw new Error(`openssl ${args[0]} failed (${(err as Error).message}); ${RSYSLOG_INSTALL_HINT}`);
    }
  };
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=aispm-test-ca',
  );
  await openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  );
  await writeFile(join(dir, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.cnf',
  );
}

/**
 * The configuration. liblognorm 2.0.6 (Debian 12) drops the first character of the
 * first extension key when it follows the header's last `|` directly, as CEF writes
 * it; the ruleset hands the parser the message with a space at that point (the
 * header cut with a regular expression that honours `\|`), so the parse is of the
 * message as sent. `msg` in the output is the message untouched.
 */
function configuration(dir: string, ports: { udp: number; tcp: number; tls: number }): string {
  return `
global(workDirectory="${dir}" maxMessageSize="64k"
  DefaultNetstreamDriverCAFile="${dir}/ca.pem"
  DefaultNetstreamDriverCertFile="${dir}/server.pem"
  DefaultNetstreamDriverKeyFile="${dir}/server.key")
module(load="imudp")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
module(load="mmnormalize")
input(type="imudp" address="127.0.0.1" port="${ports.udp}" name="udp" ruleset="aispm")
input(type="imtcp" address="127.0.0.1" port="${ports.tcp}" name="tcp" ruleset="aispm" streamDriver.name="ptcp" streamDriver.mode="0")
input(type="imtcp" address="127.0.0.1" port="${ports.tls}" name="tls" ruleset="aispm")
template(name="fields" type="list" option.jsonf="on") {
  property(outname="input" name="inputname" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="structuredData" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="cef" name="$!cef" format="jsonf")
}
ruleset(name="aispm") {
  set $.header = re_extract($msg, "^CEF:[0-9]+(\\\\|([^|\\\\\\\\]|\\\\\\\\.)*){6}\\\\|", 0, 0, "");
  set $.spaced = $.header & " " & substring($msg, strlen($.header), 1000000);
  action(type="mmnormalize" ruleBase="${dir}/cef.rb" variable="$.spaced")
  action(type="omfile" file="${dir}/messages.jsonl" template="fields")
}
`;
}

function parseRecord(line: string): RsyslogRecord {
  const raw = JSON.parse(line) as Record<string, string>;
  let cef: RsyslogRecord['cef'] = null;
  if (raw.cef) {
    try {
      cef = JSON.parse(raw.cef) as RsyslogRecord['cef'];
    } catch {
      cef = null;
    }
  }
  return {
    input: raw.input ?? '',
    pri: Number(raw.pri),
    facility: Number(raw.facility),
    severity: Number(raw.severity),
    timestamp: raw.timestamp ?? '',
    hostname: raw.hostname ?? '',
    app: raw.app ?? '',
    procid: raw.procid ?? '',
    msgid: raw.msgid ?? '',
    structuredData: raw.structuredData ?? '',
    msg: raw.msg ?? '',
    cef,
  };
}

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts rsyslogd; throws, saying what to install, when it cannot. */
export async function startRsyslog(
  options: { binary?: string; startTimeoutMs?: number } = {},
): Promise<RsyslogHarness> {
  const binary = options.binary ?? process.env.RSYSLOGD ?? '/usr/sbin/rsyslogd';
  if (!existsSync(binary)) throw new Error(`rsyslogd not found at ${binary}; ${RSYSLOG_INSTALL_HINT}`);
  const dir = await mkdtemp(join(tmpdir(), 'aispm-rsyslog-'));
  await makeCertificates(dir);
  await writeFile(join(dir, 'cef.rb'), 'version=2\nrule=:%cef:cef%\n');
  const ports = { udp: await freeUdpPort(), tcp: await freeTcpPort(), tls: await freeTcpPort() };
  await writeFile(join(dir, 'rsyslog.conf'), configuration(dir, ports));
  await writeFile(join(dir, 'messages.jsonl'), '');

  let stderr = '';
  let exited: number | null | undefined;
  const child: ChildProcess = spawn(binary, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exited = code;
      resolve();
    });
    child.once('error', (err) => {
      stderr += err.message;
      exited = -1;
      resolve();
    });
  });

  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  for (;;) {
    if (exited !== undefined) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`rsyslogd exited (${exited}) at start: ${stderr.trim() || 'no output'}; ${RSYSLOG_INSTALL_HINT}`);
    }
    if ((await reachable(ports.tcp)) && (await reachable(ports.tls))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      await rm(dir, { recursive: true, force: true });
      throw new Error(
        `rsyslogd did not listen within ${options.startTimeoutMs ?? 15_000} ms: ${stderr.trim()}; ${RSYSLOG_INSTALL_HINT}`,
      );
    }
    await sleep(50);
  }

  const records = async () => {
    const text = await readFile(join(dir, 'messages.jsonl'), 'utf8');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(parseRecord);
  };

  return {
    udpPort: ports.udp,
    tcpPort: ports.tcp,
    tlsPort: ports.tls,
    caFile: join(dir, 'ca.pem'),
    dir,
    records,
    async waitFor(count, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const got = await records();
        if (got.length >= count) return got;
        if (Date.now() > until || exited !== undefined) {
          throw new Error(
            `rsyslog wrote ${got.length} of ${count} messages within ${timeoutMs} ms; its output: ${stderr.trim() || 'none'}`,
          );
        }
        await sleep(50);
      }
    },
    async stop() {
      if (exited === undefined) {
        child.kill('SIGTERM');
        await exit;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
