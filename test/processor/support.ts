import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type kafkajs from 'kafkajs';

/** `aispm up` as a child process, for the tests that kill, stop and restart processors. */
const repo = resolve(import.meta.dirname, '../..');

export interface Up {
  child: ChildProcess;
  /** Its stdout and stderr lines so far. */
  logs: string[];
  exited: Promise<number | null>;
}

/** Processes still running, so a failed test can kill them all in its teardown. */
export const children = new Set<ChildProcess>();

export function spawnUp(env: NodeJS.ProcessEnv): Up {
  const child = spawn(process.execPath, ['services/cli/src/main.ts', 'up', '--status-every', '1'], {
    cwd: repo,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const logs: string[] = [];
  const collect = (chunk: Buffer): void => {
    logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((done) =>
    child.once('exit', (code) => {
      children.delete(child);
      done(code);
    }),
  );
  return { child, logs, exited };
}

/**
 * The group has committed every offset of the events topic: all outputs are durable.
 * (Scores on the topic are not enough: a killed process may have published some
 * whose batch it never committed, which the next process must still process.)
 */
export async function committedAll(admin: kafkajs.Admin, topic: string, group: string): Promise<boolean> {
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: group, topics: [topic] }),
  ]);
  const at = new Map(committed[0]?.partitions.map((p) => [p.partition, p.offset]) ?? []);
  // A partition that never had a record has nothing to commit (its committed offset stays -1).
  return ends.every((end) => end.high === '0' || at.get(end.partition) === end.high);
}
