import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finds a real Kafka broker for the test run, in this order: KAFKA_BROKERS when set;
 * a testcontainers KRaft container when a Docker engine answers; else the local KRaft
 * broker from deploy/local/kafka (Java + Maven, no Docker). Fails, saying what to
 * install, when none can start: Kafka tests never skip.
 */
export interface KafkaBroker {
  brokers: string[];
  /** What runs and where, e.g. "Apache Kafka 4.3.1 (local KRaft broker from deploy/local/kafka) at 127.0.0.1:40123". */
  label: string;
  stop(): Promise<void>;
}

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const kafkaDir = join(repo, 'deploy/local/kafka');
const kafkaScript = join(kafkaDir, 'kafka.sh');
/** Confluent Platform 8.0 ships Apache Kafka 4.0 and runs KRaft only; the version @testcontainers/kafka supports. */
const CONTAINER_IMAGE = 'confluentinc/cp-kafka:8.0.0';
const CONTAINER_KAFKA = 'Apache Kafka 4.0';

const START_TIMEOUT_MS = 3 * 60_000;
/** The first local start downloads the broker's jars with Maven. */
const FETCH_TIMEOUT_MS = 15 * 60_000;

export async function startKafkaBroker(
  env: NodeJS.ProcessEnv = process.env,
  say: (line: string) => void = (line) => console.log(line),
): Promise<KafkaBroker> {
  const external = env.KAFKA_BROKERS?.trim();
  if (external) return useExternal(external);

  const failures: string[] = [];
  const docker = await dockerAnswers();
  if (docker === true) {
    try {
      return await startContainer(say);
    } catch (err) {
      failures.push(`testcontainers (${CONTAINER_IMAGE}): ${message(err)}`);
      say('Kafka: the testcontainers broker did not start; trying the local broker from deploy/local/kafka');
    }
  } else {
    failures.push(`Docker: ${docker}`);
  }
  try {
    return await startLocal(say);
  } catch (err) {
    failures.push(`local broker (deploy/local/kafka/kafka.sh): ${message(err)}`);
  }
  throw new Error(
    [
      'No Kafka broker for the tests; Kafka tests never skip. Tried:',
      ...failures.map((f) => `  - ${f}`),
      'Fix one of: install Java 17+ and Maven (the local broker fetches Apache Kafka from Maven Central once);',
      'or start a Docker engine (testcontainers runs Kafka in a container);',
      'or set KAFKA_BROKERS=host:port to a running broker.',
    ].join('\n'),
  );
}

async function useExternal(list: string): Promise<KafkaBroker> {
  const brokers = list
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const bad = brokers.filter((b) => !/^[^\s,:]+:\d{1,5}$/.test(b));
  if (bad.length > 0)
    throw new Error(`KAFKA_BROKERS: ${bad.join(', ')} is not host:port; expected e.g. 127.0.0.1:9092`);
  await Promise.all(brokers.map((b) => reachable(b)));
  return {
    brokers,
    label: `Kafka (external, from KAFKA_BROKERS) at ${brokers.join(',')}`,
    stop: () => Promise.resolve(),
  };
}

function reachable(broker: string): Promise<void> {
  const at = broker.lastIndexOf(':');
  const host = broker.slice(0, at);
  const port = Number(broker.slice(at + 1));
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host, port, timeout: 5000 });
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`KAFKA_BROKERS: cannot reach ${broker} (${why}); start that broker or unset KAFKA_BROKERS`));
    };
    socket.once('connect', () => {
      socket.end();
      resolvePromise();
    });
    socket.once('timeout', () => fail('no answer within 5 s'));
    socket.once('error', (err) => fail(err.message));
  });
}

/** true, or why not: testcontainers needs an engine that answers, not just a CLI. */
function dockerAnswers(): Promise<true | string> {
  return new Promise((resolvePromise) => {
    execFile('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000 }, (err, _stdout, stderr) => {
      if (!err) return resolvePromise(true);
      const reason =
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no docker command' : stderr.trim() || err.message;
      resolvePromise(`no engine answered \`docker info\` (${reason.split('\n').at(-1)})`);
    });
  });
}

async function startContainer(say: (line: string) => void): Promise<KafkaBroker> {
  say(`Kafka: starting ${CONTAINER_IMAGE} with testcontainers (pulls the image on first use)`);
  // Loaded only on this path: testcontainers is large and only needed with Docker.
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const container = await new KafkaContainer(CONTAINER_IMAGE).withKraft().start();
  const address = `${container.getHost()}:${container.getMappedPort(9093)}`;
  return {
    brokers: [address],
    label: `${CONTAINER_KAFKA} (${CONTAINER_IMAGE}, KRaft, testcontainers) at ${address}`,
    stop: async () => {
      await container.stop();
    },
  };
}

async function startLocal(say: (line: string) => void): Promise<KafkaBroker> {
  const version = (await run(['version'], START_TIMEOUT_MS)).trim();
  const fetching = !existsSync(join(kafkaDir, 'lib', `kafka_2.13-${version}.jar`));
  if (fetching) {
    say(
      `Kafka: first run: fetching Apache Kafka ${version} jars from Maven Central into ` +
        `${relative(repo, join(kafkaDir, 'lib'))} (one-time; can take a few minutes)`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'aispm-kafka-'));
  let address: string;
  try {
    address = (await run(['start', dir], fetching ? FETCH_TIMEOUT_MS : START_TIMEOUT_MS, fetching ? say : undefined))
      .trim()
      .split('\n')
      .at(-1)!;
  } catch (err) {
    await run(['stop', dir], START_TIMEOUT_MS).catch(() => undefined);
    const log = await readFile(join(dir, 'broker.log'), 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    const tail = log ? `\nlast broker log lines:\n${log.split('\n').slice(-15).join('\n')}` : '';
    throw new Error(`${message(err)}${tail}`, { cause: err });
  }
  return {
    brokers: [address],
    label: `Apache Kafka ${version} (local KRaft broker from deploy/local/kafka) at ${address}`,
    stop: async () => {
      await run(['stop', dir], START_TIMEOUT_MS);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs kafka.sh; its stderr (Maven, start-up problems) goes to the terminal as it comes. */
function run(args: string[], timeoutMs: number, progress?: (line: string) => void): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [kafkaScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      process.stderr.write(chunk);
    });
    const started = Date.now();
    const ticker = progress
      ? setInterval(() => progress(`Kafka: still fetching (${Math.round((Date.now() - started) / 1000)} s)`), 15_000)
      : undefined;
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`kafka.sh ${args[0]} did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('error', (err) => reject(err));
    child.once('close', (code) => {
      clearTimeout(timer);
      clearInterval(ticker);
      if (code === 0) resolvePromise(stdout);
      else reject(new Error(`kafka.sh ${args[0]} failed (exit ${code}): ${stderr.trim().split('\n').at(-1) ?? ''}`));
    });
  });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
