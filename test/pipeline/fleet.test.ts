import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventCodec, eventKey, loadConfig, sampleEvent, type AiEvent } from '@aispm/core';
import { MemoryBus } from '@aispm/bus';
import { ChdbStore, migrate } from '@aispm/store';
import { Processor } from '@aispm/processor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * Both processor stages in embedded mode: the agents stage scores each event
 * against its agent and re-keys it by user, identity, model and tool; the
 * entities stage keeps those fleet-wide baselines and raises what no single
 * agent's baseline can see.
 */
const config = loadConfig({});
const codec = createEventCodec();
const dir = mkdtempSync(join(tmpdir(), 'aispm-fleet-'));
const bus = new MemoryBus();
const NOW_MS = Date.UTC(2026, 10, 1);
const now = (): number => NOW_MS;
let store: ChdbStore;
let agents: Processor;
let entities: Processor;

/** A small seeded generator, so the traffic is the same every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Two days of two agents: support-bot serves customers cust-0…3 with lookups;
 * ops-bot serves forty operators, and exports customers for them all day.
 */
function traffic(): AiEvent[] {
  const random = rng(5);
  const events: AiEvent[] = [];
  const start = NOW_MS - 2 * 86_400_000;
  for (let i = 0; i < 6000; i++) {
    const ops = i % 3 === 0;
    const time = (start + i * 28_000 + Math.floor(random() * 1000)) * 1000;
    const tool = i % 2 === 0 ? null : ops ? (i % 4 === 1 ? 'export_customers' : 'lookup_customer') : 'lookup_order';
    events.push(
      sampleEvent({
        event_id: `e${i}`,
        span_id: i.toString(16).padStart(16, '0'),
        tenant: 'acme',
        time,
        app: 'crm',
        agent: ops ? 'ops-bot' : 'support-bot',
        user: ops ? `op-${Math.floor(random() * 40)}` : `cust-${Math.floor(random() * 4)}`,
        identity: ops ? 'svc-ops@acme' : 'svc-support@acme',
        kind: tool ? 'tool_call' : 'llm_call',
        operation: tool ? 'execute_tool' : 'chat',
        tool_name: tool,
        destination: tool ? 'crm.acme.internal' : 'api.openai.com',
        request_model: tool ? null : 'gpt-4o',
        response_model: tool ? null : 'gpt-4o-2024-08-06',
        input_tokens: tool ? null : 500 + Math.floor(random() * 200),
        output_tokens: tool ? null : 100 + Math.floor(random() * 50),
        latency_ms: 100 + random() * 50,
      }),
    );
  }
  return events;
}

beforeAll(async () => {
  store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
  await migrate(store);
  const { topics } = config;
  await bus.ensureTopics(
    [topics.events, topics.scores, topics.findings, topics.deadLetter, topics.entities].map((topic) => ({
      topic,
      partitions: 4,
    })),
  );
  agents = new Processor({ bus, store, topics, topic: topics.events, now, maxBatchSize: 500, fleet: true });
  entities = new Processor({ bus, store, topics, now, stage: 'entities' });
  await entities.start();
  await agents.start();
});

afterAll(async () => {
  await agents.stop();
  await entities.stop();
  await bus.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fleet-wide baselines, embedded', () => {
  it("folds every event into each of its entities' baselines, and flags a customer using ops-bot's export", async () => {
    const events = traffic();
    const last = events.at(-1)!;
    // cust-3 reaches ops-bot (its user mix is open: forty operators) and exports customers.
    const injected = sampleEvent({
      ...last,
      event_id: 'injected',
      span_id: 'ffffffffffffffff',
      time: last.time + 5_000_000,
      agent: 'ops-bot',
      user: 'cust-3',
      identity: 'svc-ops@acme',
      kind: 'tool_call',
      operation: 'execute_tool',
      tool_name: 'export_customers',
      destination: 'crm.acme.internal',
      request_model: null,
      response_model: null,
      input_tokens: null,
      output_tokens: null,
    });
    events.push(injected);
    await bus.publish(
      config.topics.events,
      events.map((event) => ({ key: eventKey(event), value: codec.encode(event) })),
    );
    // Every event has a user, an identity, and a model or a tool: three fleet entities each.
    // The agents stage counts a batch once it is checkpointed, after its records reached the entities stage.
    await until(
      () => entities.stats().stored === 3 * events.length && agents.stats().stored >= events.length,
      'both stages to take in every event',
    );
    expect(agents.stats().stored).toBe(events.length);
    // 44 users, 2 identities, 1 model, 3 tools.
    expect(entities.stats().entities).toBe(50);

    const [agentScore] = await store.query<{ score: number }>(
      "SELECT score FROM anomaly_scores WHERE event_id = 'injected'",
    );
    expect(agentScore!.score).toBeLessThan(0.5);
    const findings = await store.query<{ asset_type: string; title: string; evidence: string[]; event_ids: string[] }>(
      `SELECT asset_type, title, evidence, event_ids FROM findings FINAL
       WHERE tenant = 'acme' AND asset = 'acme/user:cust-3' AND type = 'behaviour_anomaly'`,
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ asset_type: 'user', event_ids: ['injected'] });
    expect(findings[0]!.evidence).toEqual(
      expect.arrayContaining([
        'tool `export_customers` never used by user `cust-3` in 2 days',
        'agent `ops-bot` never seen with user `cust-3` in 2 days',
      ]),
    );
    // Nothing else across the fleet looked anomalous on this steady traffic.
    const [others] = await store.query<{ n: string }>(
      "SELECT count() AS n FROM findings FINAL WHERE type = 'behaviour_anomaly' AND asset != 'acme/user:cust-3'",
    );
    expect(Number(others!.n)).toBe(0);
  });
});
