import { startChdbHttp } from './chdb-http.ts';

/**
 * The chdb HTTP stand-in as a process of its own, so a test can pause it
 * (SIGSTOP) or kill it as it would a ClickHouse server:
 *   node test/support/chdb-http-main.ts <chdb folder>
 * prints {"url":"http://127.0.0.1:<port>"} once it listens; SIGTERM closes it.
 */
const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: node test/support/chdb-http-main.ts <chdb folder>\n');
  process.exit(2);
}
const server = await startChdbHttp({ path });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
