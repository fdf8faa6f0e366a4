import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { until } from '../support/until.ts';

/**
 * The fault suite's own processes: a Kafka broker it may restart (never the run's
 * shared one), the store as a process it may pause, and the memory bounds every
 * aispm process is held to.
 */
const repo = resolve(import.meta.dirname, '../..');
const kafkaScript = join(repo, 'deploy/local/kafka/kafka.sh');

/** A broker of the suite's own, from deploy/local/kafka, restartable on its data and port. */
export class OwnBroker {
  readonly dir: string;
  readonly address: string;

  private constructor(dir: string, address: string) {
    this.dir = dir;
    this.address = address;
  }

  static async start(dir: string): Promise<OwnBroker> {
    return new OwnBroker(dir, await kafkaSh(['start', dir]));
  }

  /** Stops the broker (SIGTERM, as an orchestrator would) and starts it again on the same data and address. */
  async restart(): Promise<void> {
    const address = await kafkaSh(['restart', this.dir]);
    if (address !== this.address) throw new Error(`the broker came back at ${address}, not ${this.address}`);
  }

  async stop(): Promise<void> {
    await kafkaSh(['stop', this.dir]);
  }
}

function kafkaSh(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [kafkaScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', fail);
    child.once('close', (code) =>
      code === 0
        ? done(out.trim().split('\n').at(-1) ?? '')
        : fail(new Error(`kafka.sh ${args.join(' ')} failed (exit ${code}): ${err.trim()}`)),
    );
  });
}

/**
 * The store as a process of its own: the chdb HTTP stand-in (test/support/chdb-http.ts,
 * the real engine behind ClickHouse's HTTP interface), which the suite pauses with
 * SIGSTOP as a hung ClickHouse server would be.
 */
export interface StoreProcess {
  url: string;
  child: ChildProcess;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startStoreProcess(chdbDir: string): Promise<StoreProcess> {
  const child = spawn(process.execPath, [join(repo, 'test/support/chdb-http-main.ts'), chdbDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  let url = '';
  await until(
    () => {
      url = /"url":"([^"]+)"/.exec(out)?.[1] ?? '';
      return url !== '' || child.exitCode !== null;
    },
    'the store process to listen',
    { timeoutMs: 60_000, context: () => out },
  );
  if (url === '') throw new Error(`the store process exited: ${out}`);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    url,
    child,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The memory limit the Helm chart gives each service: what its pod is killed at. */
export function chartMemoryLimits(): Record<'gateway' | 'processor' | 'alerter', number> {
  const values = parse(readFileSync(join(repo, 'deploy/helm/aispm/values.yaml'), 'utf8')) as Record<
    string,
    { resources: { limits: { memory: string } } }
  >;
  const bytes = (quantity: string): number => {
    const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
    if (!match) throw new Error(`values.yaml: memory limit ${quantity} is not <n>Mi or <n>Gi`);
    return Number(match[1]) * (match[2] === 'Gi' ? 1024 ** 3 : 1024 ** 2);
  };
  return {
    gateway: bytes(values.gateway!.resources.limits.memory),
    processor: bytes(values.processor!.resources.limits.memory),
    alerter: bytes(values.alerter!.resources.limits.memory),
  };
}

/** Samples the resident memory of the processes it watches, keeping each role's peak. */
export class MemoryWatch {
  readonly peaks = new Map<string, number>();
  private readonly watched = new Map<string, ChildProcess>();
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 250) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  watch(role: string, child: ChildProcess): void {
    this.watched.set(role, child);
  }

  sample(): void {
    for (const [role, child] of this.watched) {
      const rss = residentBytes(child.pid);
      if (rss !== null) this.peaks.set(role, Math.max(this.peaks.get(role) ?? 0, rss));
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** VmRSS of a live process, from /proc; null once it has exited. */
function residentBytes(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}
