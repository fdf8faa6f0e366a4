import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type kafkajs from 'kafkajs';
import { consumerGroups, createEventCodec, loadConfig, type AiEvent, type Config } from '@aispm/core';
import type { KafkaBus } from '@aispm/bus';
import {
  agentView,
  createScoreCodec,
  Scorer,
  SOURCE_PARTITION,
  SOURCE_SEQ,
  type AnomalyScoreRecord,
} from '@aispm/processor';
import { readTopic } from '../support/read-topic.ts';

/** `aispm up` as a child process, for the tests that kill, stop and restart processors. */
const repo = resolve(import.meta.dirname, '../..');

/** Every topic `aispm up` uses, as loadConfig names them. */
export type UpTopics = Config['topics'];

/** All of a run's topics from one prefix, so the children of different runs and tests share none. */
export function upTopics(prefix: string): UpTopics {
  const topic = (what: string): string => `${prefix}.${what}`;
  return {
    events: topic('events'),
    attributed: topic('attributed'),
    traceState: topic('trace-state'),
    scores: topic('scores'),
    findings: topic('findings'),
    state: topic('state'),
    deadLetter: topic('dlq'),
    entities: topic('entities'),
    entityState: topic('entity-state'),
    genaiLogs: topic('genai-logs'),
    genaiMetrics: topic('genai-metrics'),
  };
}

export interface UpEnvOptions {
  brokers: string[];
  dataDir: string;
  topics: UpTopics;
  group: string;
  partitions: number;
  /** AISPM_PROCESSOR_BATCH. */
  batch: number;
  /** AISPM_KAFKA_CLIENT_ID, to tell the group's members apart. */
  clientId?: string;
}

/**
 * The environment of a distributed `aispm up` child: the test's broker, chdb in
 * `dataDir`, every AISPM_TOPIC_* from `topics`, info logs (the tests read them), and
 * the broker's minimum session timeout, so joins, rebalances and the takeover from
 * a killed member (which never leaves the group) take seconds.
 */
export function upEnv(o: UpEnvOptions): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AISPM_MODE: 'distributed',
    AISPM_STORE: 'chdb',
    AISPM_DATA_DIR: o.dataDir,
    KAFKA_BROKERS: o.brokers.join(','),
    ...(o.clientId === undefined ? {} : { AISPM_KAFKA_CLIENT_ID: o.clientId }),
    AISPM_PARTITIONS: String(o.partitions),
    AISPM_TOPIC_EVENTS: o.topics.events,
    AISPM_TOPIC_ATTRIBUTED: o.topics.attributed,
    AISPM_TOPIC_TRACE_STATE: o.topics.traceState,
    AISPM_TOPIC_SCORES: o.topics.scores,
    AISPM_TOPIC_FINDINGS: o.topics.findings,
    AISPM_TOPIC_STATE: o.topics.state,
    AISPM_TOPIC_DEAD_LETTER: o.topics.deadLetter,
    AISPM_TOPIC_ENTITIES: o.topics.entities,
    AISPM_TOPIC_ENTITY_STATE: o.topics.entityState,
    AISPM_TOPIC_GENAI_LOGS: o.topics.genaiLogs,
    AISPM_TOPIC_GENAI_METRICS: o.topics.genaiMetrics,
    AISPM_PROCESSOR_GROUP: o.group,
    AISPM_PROCESSOR_BATCH: String(o.batch),
    AISPM_KAFKA_SESSION_TIMEOUT_MS: '6000',
    // Several processes at once: each its own metrics port.
    AISPM_METRICS_PORT: '0',
    AISPM_LOG_LEVEL: 'info',
  };
}

/** Data folders made by `dataDir`, removed by `tearDown`. */
const dirs: string[] = [];

/** A fresh temporary folder for a child's store. */
export function dataDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `aispm-${name}-`));
  dirs.push(dir);
  return dir;
}

export interface Up {
  /** For log excerpts: the member's client id, or the run's name. */
  name: string;
  child: ChildProcess;
  /** Its stdout and stderr lines so far. */
  logs: string[];
  exited: Promise<number | null>;
}

/** Processes still running, so a failed test can kill them all in its teardown. */
export const children = new Set<ChildProcess>();

export function spawnUp(name: string, env: NodeJS.ProcessEnv): Up {
  return spawnAispm(name, ['up', '--status-every', '1'], env);
}

/** Any `aispm` command as a child process, e.g. `['gateway']`. */
export function spawnAispm(name: string, args: string[], env: NodeJS.ProcessEnv): Up {
  const child = spawn(process.execPath, ['services/cli/src/main.ts', ...args], {
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
  return { name, child, logs, exited };
}

/** For until's `context`: each child's last log lines, so a timeout says what they were doing. */
export const lastLogs =
  (...ups: Up[]) =>
  (): string =>
    `last logs:\n${ups.map((u) => `--- ${u.name}\n${u.logs.slice(-20).join('\n')}`).join('\n')}`;

/** Keys restored from checkpoints, and of which partitions, as the processor logs them, from log line `from` on. */
export function restoredState(u: Up, from = 0): { keys: number; partitions: number[] } {
  const lines = u.logs
    .slice(from)
    .filter((line) => line.includes('state restored'))
    .map((line) => JSON.parse(line) as { keys: number; partitions: number[] });
  return { keys: lines.reduce((n, l) => n + l.keys, 0), partitions: lines.flatMap((l) => l.partitions) };
}

const scoreCodec = createScoreCodec();

/** Reads a scores topic from its beginning in consumer group `group`, handing `onScore` each score decoded. */
export async function readScores(
  bus: KafkaBus,
  topic: string,
  group: string,
  onScore: (score: AnomalyScoreRecord) => void,
): Promise<void> {
  await bus.subscribe({
    topic,
    group,
    handler: (batch) => {
      for (const record of batch.records) onScore(scoreCodec.decode(record.value));
      return Promise.resolve();
    },
  });
}

/** afterAll: kills the children still running, closes the test's clients and removes the data folders. */
export async function tearDown(bus: KafkaBus, admin: kafkajs.Admin): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  await bus.close();
  await admin.disconnect();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/**
 * The group has committed every offset of the events topic: all outputs are durable.
 * (Scores on the topic are not enough: a killed process may have published some
 * whose batch it never committed, which the next process must still process.)
 */
/** Whether the traces and agents stages of `group` have committed all of their topics. */
export async function pipelineCommitted(admin: kafkajs.Admin, topics: UpTopics, group: string): Promise<boolean> {
  const groups = consumerGroups(group);
  return (
    (await committedAll(admin, topics.events, groups.traces)) &&
    (await committedAll(admin, topics.attributed, groups.agents))
  );
}

export async function committedAll(admin: kafkajs.Admin, topic: string, group: string): Promise<boolean> {
  return (await uncommitted(admin, topic, group)).length === 0;
}

/** The partitions of `topic` whose records `group` has not all committed, each with its committed and end offsets. */
export async function uncommitted(admin: kafkajs.Admin, topic: string, group: string): Promise<string[]> {
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: group, topics: [topic] }),
  ]);
  const at = new Map(committed[0]?.partitions.map((p) => [p.partition, p.offset]) ?? []);
  // A partition that never had a record has nothing to commit (its committed offset stays -1).
  return ends
    .filter((end) => end.high !== '0' && at.get(end.partition) !== end.high)
    .map((end) => `${group} on ${topic}[${end.partition}]: committed ${at.get(end.partition)} of ${end.high}`);
}

/**
 * `events` (one tenant's) and a second tenant's copies of them: the same spans, so the
 * same trace, span and event ids and times, with other token counts and latencies so
 * the second tenant's baselines differ. The copies run `lag` events behind, so a
 * span's twin of the other tenant is stored batches earlier (what a replay's probe
 * of the store must not mistake for the span itself).
 */
export function withTwinTenant(events: AiEvent[], tenant: string, lag: number): AiEvent[] {
  const twins = events.map((e): AiEvent => ({
    ...e,
    tenant,
    input_tokens: e.input_tokens === null ? null : e.input_tokens * 7 + 3,
    latency_ms: e.latency_ms * 3,
  }));
  const out = events.slice(0, lag);
  for (let i = lag; i < events.length; i++) out.push(events[i]!, twins[i - lag]!);
  out.push(...twins.slice(Math.max(0, events.length - lag)));
  return out;
}

/** An event's identity across tenants (event ids are the spans' own, and tenants may share them). */
export const tenantEventId = (e: { tenant: string; event_id: string }): string => `${e.tenant}\u0000${e.event_id}`;

/**
 * The scores an uninterrupted agents stage gives the events of a run's attributed
 * topic, in the order they are there. The traces stage interleaves a trace
 * partition's events with other partitions' as it goes, so two runs order one
 * agent's events differently; a run's own stream is what its scores must match.
 * Records sent twice (a replay of the traces stage) are folded once, by their
 * source position, as the agents stage does.
 */
export async function scoresOfStream(
  brokers: string[],
  admin: kafkajs.Admin,
  topic: string,
): Promise<Map<string, { score: number; learning: boolean }>> {
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((n, end) => n + Number(end.high), 0);
  const records = await readTopic(brokers, topic, total, { timeoutMs: 60_000 });
  records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  const codec = createEventCodec();
  const scorer = new Scorer({ ...loadConfig({}).analytics });
  const scores = new Map<string, { score: number; learning: boolean }>();
  for (const record of records) {
    const event = codec.decode(record.value);
    const view = agentView(event);
    const source = {
      partition: Number(record.headers[SOURCE_PARTITION]),
      offset: Number(record.headers[SOURCE_SEQ]),
    };
    if (scorer.folded(view.key, source)) continue;
    const { score, learning } = scorer.score(event, view, source);
    scores.set(tenantEventId(event), { score, learning });
  }
  return scores;
}
