import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { z } from 'zod';
import type { DeliveryResult, Destination } from '../notification.ts';
import { FACILITIES, fittedSyslogLine, syslogLine, cefMessage, type Facility, type SyslogHeader } from './cef.ts';
import { DELIVERY_REASONS } from './errors.ts';
import { durationMs, parseOptions, type DestinationConfig } from './options.ts';
import { destinationOptionError } from './errors.ts';

/**
 * syslog (RFC 5424) with a CEF payload, one message per finding, over UDP (RFC 5426:
 * one datagram per message, bounded), TCP with octet counting (RFC 6587 §3.4.1:
 * `<length> <message>`) or TLS (RFC 5425, the same framing).
 */
export const syslogOptions = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  /** 514 for udp and tcp, 6514 for tls by default. */
  port: z.number().int().min(1).max(65_535).optional(),
  transport: z.enum(['udp', 'tcp', 'tls']).default('tcp'),
  facility: z
    .union([z.enum(Object.keys(FACILITIES) as [Facility, ...Facility[]]), z.number().int().min(0).max(23)])
    .default('local0'),
  hostname: z.string().min(1).default(hostname()),
  app_name: z.string().min(1).max(48).default('aispm'),
  msg_id: z.string().min(1).max(32).default('finding'),
  /** A datagram's bound: RFC 5426 asks receivers for 480 bytes at least and 2048 where they can. */
  max_udp_bytes: z.number().int().min(480).max(65_000).default(2048),
  /** TCP and TLS: a message longer than this is cut down as a datagram would be. */
  max_message_bytes: z
    .number()
    .int()
    .min(480)
    .max(1_048_576)
    .default(64 * 1024),
  /** TLS: the CA that signed the receiver's certificate (PEM); the system's CAs otherwise. */
  ca_file: z.string().min(1).optional(),
  /** TLS client certificate and key (PEM), for receivers that ask for one. */
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  /** TLS: the name the receiver's certificate must carry; the host by default. */
  server_name: z.string().min(1).optional(),
  timeout_ms: durationMs(10_000),
});
export type SyslogOptions = z.infer<typeof syslogOptions>;

export interface SyslogDeps {
  now?: () => number;
}

/** One framed message on a stream (RFC 6587 octet counting). */
export function octetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

function readPem(destination: string, option: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw destinationOptionError(
      destination,
      option,
      `cannot read ${path} (${(err as Error).message}); write the path of a PEM file`,
    );
  }
}

export function createSyslog(config: DestinationConfig, _env: NodeJS.ProcessEnv, deps: SyslogDeps = {}): Destination {
  const options = parseOptions(config, syslogOptions);
  const now = deps.now ?? Date.now;
  const port = options.port ?? (options.transport === 'tls' ? 6514 : 514);
  const facility = typeof options.facility === 'number' ? options.facility : FACILITIES[options.facility];
  if ((options.cert_file === undefined) !== (options.key_file === undefined)) {
    throw destinationOptionError(config.name, 'cert_file', 'give cert_file and key_file together');
  }
  const tlsFiles =
    options.transport === 'tls'
      ? {
          ca: readPem(config.name, 'ca_file', options.ca_file),
          cert: readPem(config.name, 'cert_file', options.cert_file),
          key: readPem(config.name, 'key_file', options.key_file),
        }
      : undefined;
  const what = `syslog destination ${config.name} (${options.transport}://${options.host}:${port})`;
  const maxBytes = options.transport === 'udp' ? options.max_udp_bytes : options.max_message_bytes;

  let udp: UdpSocket | undefined;
  let stream: Socket | undefined;
  let connecting: Promise<Socket> | undefined;

  function header(): SyslogHeader {
    return {
      facility,
      hostname: options.hostname,
      appName: options.app_name,
      procId: String(process.pid),
      msgId: options.msg_id,
      time: now(),
    };
  }

  function openStream(signal: AbortSignal): Promise<Socket> {
    if (stream && !stream.destroyed && stream.writable) return Promise.resolve(stream);
    connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket =
        options.transport === 'tls'
          ? tlsConnect({
              host: options.host,
              port,
              servername: options.server_name ?? (/^[\d.:]+$/.test(options.host) ? undefined : options.host),
              ...tlsFiles,
            })
          : netConnect({ host: options.host, port });
      const timer = setTimeout(
        () => socket.destroy(new Error(`no connection within ${options.timeout_ms} ms`)),
        options.timeout_ms,
      );
      const onAbort = () => socket.destroy(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once(options.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.setKeepAlive(true);
        // A receiver that closes the connection is found out on the next write.
        socket.on('error', () => socket.destroy());
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    }).finally(() => {
      connecting = undefined;
    });
    return connecting.then((s) => (stream = s));
  }

  function write(socket: Socket, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  function sendDatagram(data: Buffer): Promise<void> {
    udp ??= createSocket(options.host.includes(':') ? 'udp6' : 'udp4').on('error', () => {});
    return new Promise((resolve, reject) => {
      udp!.send(data, port, options.host, (err) => (err ? reject(err) : resolve()));
    });
  }

  return {
    name: config.name,
    kind: 'syslog',
    async send(notification, signal): Promise<DeliveryResult> {
      const lines: string[] = [];
      for (const finding of notification.findings) {
        const h = header();
        const line = fittedSyslogLine(finding, notification.route, h, maxBytes);
        if (line === null) {
          const full = syslogLine(finding.severity, h, cefMessage(finding, notification.route));
          return {
            ok: false,
            retryable: false,
            reason: DELIVERY_REASONS.tooLarge(what, Buffer.byteLength(full), maxBytes),
          };
        }
        lines.push(line);
      }
      try {
        if (options.transport === 'udp') {
          for (const line of lines) await sendDatagram(Buffer.from(line, 'utf8'));
        } else {
          const socket = await openStream(signal);
          await write(socket, Buffer.concat(lines.map(octetCounted)));
        }
      } catch (err) {
        stream?.destroy();
        stream = undefined;
        if (signal.aborted) return { ok: false, retryable: true, reason: DELIVERY_REASONS.aborted(what) };
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        const tls = options.transport === 'tls' && /CERT|SIGNATURE|SELF_SIGNED|ISSUER|TLS/.test(code);
        return {
          ok: false,
          retryable: true,
          reason: tls
            ? `${DELIVERY_REASONS.unreachable(what, code)}: the receiver's certificate did not verify; set ca_file to the CA that signed it, or server_name to the name it carries`
            : DELIVERY_REASONS.unreachable(what, code),
        };
      }
      return { ok: true, detail: `${lines.length} messages` };
    },
    async close() {
      udp?.close();
      udp = undefined;
      if (stream) {
        const s = stream;
        stream = undefined;
        await new Promise<void>((resolve) => s.end(resolve));
        s.destroy();
      }
    },
  };
}
