import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, drainPending } from 'chdb';

/**
 * A loopback HTTP server that speaks the part of ClickHouse's HTTP interface
 * that @clickhouse/client uses, and runs each request on chdb: the real
 * ClickHouse engine, in this process. It is NOT a ClickHouse server. It lets the
 * ClickHouseStore code path (the real client, real HTTP, the engine's own SQL,
 * parameter parsing and error texts) run where no server is available.
 *
 * What it does, as the server does: `/ping`; POST with the query in the body, or
 * in the `query` URL parameter followed by a newline and the body (INSERT … FORMAT
 * with data); `INSERT … SELECT … FROM input(structure) FORMAT <format>` with the
 * data in the body, binary too (the stand-in writes the body to a file that the
 * file() table function reads in place of input()); `database`; `default_format`
 * (TabSeparated otherwise);
 * `param_<name>`, handed to the engine as the exact text the client sent; every
 * other URL parameter as a setting; Basic auth and X-ClickHouse-User/-Key; errors
 * as the engine's `Code: N. DB::Exception: …` text with X-ClickHouse-Exception-Code.
 *
 * What it does not: sessions (session_id), roles, compressed requests and
 * multipart parameters are refused with HTTP 501 and a NOT_IMPLEMENTED error
 * naming this stand-in. Responses are never compressed and carry no progress or
 * X-ClickHouse-Summary headers; bodies and results are buffered, not streamed;
 * requests run one at a time (as chdb requires); there is one user and no grants.
 */
export interface ChdbHttpServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  close(): Promise<void>;
}

export interface ChdbHttpOptions {
  /** chdb's data folder; the process may run chdb on no other folder meanwhile. */
  path: string;
  username?: string;
  password?: string;
}

/** URL parameters that are part of the protocol rather than settings. */
const PROTOCOL_PARAMS = new Set(['query', 'database', 'default_format', 'query_id', 'user', 'password']);
const UNSUPPORTED_PARAMS = new Set([
  'session_id',
  'session_check',
  'session_timeout',
  'compress',
  'decompress',
  'role',
]);
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HTTP_STATUS: Record<number, number> = { 62: 400, 60: 404, 81: 404, 516: 403 };

class HttpFailure extends Error {
  readonly status: number;
  readonly engineCode: number;

  constructor(status: number, engineCode: number, message: string) {
    super(message);
    this.status = status;
    this.engineCode = engineCode;
  }
}

export async function startChdbHttp(options: ChdbHttpOptions): Promise<ChdbHttpServer> {
  // Keeps the engine bound to the folder while per-request connections come and go.
  const anchor = new Session(options.path);
  let tail: Promise<unknown> = Promise.resolve();
  const serialize = <R>(task: () => Promise<R>): Promise<R> => {
    const result = tail.then(task);
    tail = result.catch(() => {});
    return result;
  };

  // ClickHouse takes a request line up to http_max_uri_size (1 MiB by default); Node's own limit is 16 KiB.
  const server = createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/ping') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' }).end('Ok.\n');
      return;
    }
    const queryId = url.searchParams.get('query_id') ?? '';
    try {
      checkSupported(req, url);
      checkAuth(req, url, options);
      const body = await readBody(req);
      const inUrl = url.searchParams.get('query');
      const format = url.searchParams.get('default_format') ?? 'TabSeparated';
      const fromInput = inUrl === null ? null : INPUT_QUERY.exec(inUrl);
      const output = await serialize(() =>
        fromInput
          ? executeFromInput(options.path, url.searchParams, fromInput, body, format)
          : execute(
              options.path,
              url.searchParams,
              `${inUrl === null ? '' : `${inUrl}\n`}${body.toString('utf8')}`,
              format,
            ),
      );
      res
        .writeHead(200, {
          'Content-Type': 'text/plain; charset=UTF-8',
          'X-ClickHouse-Query-Id': queryId,
          'X-ClickHouse-Format': format,
          'X-ClickHouse-Timezone': 'UTC',
        })
        .end(output);
    } catch (err) {
      const failure = asFailure(err);
      res
        .writeHead(failure.status, {
          'Content-Type': 'text/plain; charset=UTF-8',
          'X-ClickHouse-Query-Id': queryId,
          'X-ClickHouse-Exception-Code': String(failure.engineCode),
        })
        .end(`${failure.message}\n`);
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tail;
      anchor.close();
      await drainPending();
    },
  };
}

/** A query reading its request body through input(): the statement up to it, the structure, the rest, the format. */
const INPUT_QUERY = /^(.*\bFROM\s+)input\(('(?:[^'\\]|\\.)*')\)(.*?)\s+FORMAT\s+(\w+)\s*$/s;

/** input() reads the request body, which chdb cannot be handed: the body goes to a file and file() reads it instead. */
async function executeFromInput(
  path: string,
  params: URLSearchParams,
  [, head, structure, tail, dataFormat]: RegExpExecArray,
  body: Buffer,
  format: string,
): Promise<Uint8Array> {
  const folder = await mkdtemp(join(tmpdir(), 'chdb-http-input-'));
  const file = join(folder, 'body');
  try {
    await writeFile(file, body);
    return await execute(
      path,
      params,
      `${head}file(${quoteString(file)}, ${quoteString(dataFormat!)}, ${structure})${tail}`,
      format,
    );
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** One request on a connection of its own, so its database, settings and parameters end with it, as on a server. */
async function execute(path: string, params: URLSearchParams, sql: string, format: string): Promise<Uint8Array> {
  const session = new Session(path);
  try {
    const database = params.get('database');
    if (database !== null) await session.queryAsync(`USE ${quoteIdentifier(database)}`);
    for (const [name, value] of params) {
      if (PROTOCOL_PARAMS.has(name)) continue;
      // param_x carries the parameter's text exactly as the client formatted it; the engine parses it by the placeholder's type.
      await session.queryAsync(`SET ${quoteIdentifier(name)} = ${quoteString(value)}`);
    }
    const result = await session.queryAsync(sql, { format });
    return result.bytes();
  } finally {
    session.close();
  }
}

function checkSupported(req: IncomingMessage, url: URL): void {
  const unsupported = [...url.searchParams.keys()].find((name) => UNSUPPORTED_PARAMS.has(name));
  if (unsupported !== undefined) throw notImplemented(`the URL parameter ${unsupported}`);
  const badName = [...url.searchParams.keys()].find((name) => !SETTING_NAME.test(name));
  if (badName !== undefined) throw notImplemented(`the URL parameter ${JSON.stringify(badName)}`);
  if (req.headers['content-encoding'] !== undefined) throw notImplemented('compressed requests');
  if ((header(req, 'content-type') ?? '').startsWith('multipart/')) throw notImplemented('multipart parameters');
}

function checkAuth(req: IncomingMessage, url: URL, options: ChdbHttpOptions): void {
  let user = header(req, 'x-clickhouse-user') ?? url.searchParams.get('user') ?? 'default';
  let password = header(req, 'x-clickhouse-key') ?? url.searchParams.get('password') ?? '';
  const basic = /^Basic (.+)$/.exec(header(req, 'authorization') ?? '');
  if (basic?.[1] !== undefined) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    user = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (user !== (options.username ?? 'default') || password !== (options.password ?? '')) {
    throw new HttpFailure(
      403,
      516,
      `Code: 516. DB::Exception: ${user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`,
    );
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function notImplemented(what: string): HttpFailure {
  return new HttpFailure(
    501,
    48,
    `Code: 48. DB::Exception: chdb-http (a test stand-in, not a ClickHouse server) does not implement ${what}. (NOT_IMPLEMENTED)`,
  );
}

/** The engine's error as the server would send it: its own text, its code, the server's HTTP status for that code. */
function asFailure(err: unknown): HttpFailure {
  if (err instanceof HttpFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  const engineCode = Number(/^Code: (\d+)\./.exec(message)?.[1] ?? 1001);
  return new HttpFailure(HTTP_STATUS[engineCode] ?? 500, engineCode, message);
}

function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0')}'`;
}
