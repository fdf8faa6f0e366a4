import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AiEvent } from '@aispm/core';
import { ChdbStore, clickhouseTime, migrate } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentView } from './baseline/view.ts';
import { Scorer } from './scorer.ts';
import { createScoreCodec } from './score/score-codec.ts';
import { SCORES_FROM_AVRO, SCORES_TABLE, scoreRecord } from './sink.ts';
import { T0_MS, agentEvent, agentTraffic, rng, type SimulatedAgent } from './testing/simulated-agent.ts';

const DAY_MS = 86_400_000;

const billing: SimulatedAgent = { agent: 'billing-bot', everyS: 10, inputTokens: 800, outputTokens: 150 };

describe('scores stored from their published records (SCORES_FROM_AVRO)', () => {
  let folder: string;
  let store: ChdbStore;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'aispm-sink-'));
    store = await ChdbStore.open({ path: join(folder, 'chdb'), database: 'aispm' });
    await migrate(store);
  });
  afterAll(async () => {
    await store.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('writes the row the record describes: agent or none, every part as a feature and its reason', async () => {
    const scorer = new Scorer({ now: () => T0_MS + 3 * DAY_MS });
    const past = agentTraffic(billing, T0_MS, 17_280, 1); // two days
    for (const event of past) scorer.score(event, agentView(event));
    const t = past.at(-1)!.time / 1_000_000 + 10;
    const events: AiEvent[] = [
      agentEvent(billing, t, 1, rng(5)),
      { ...agentEvent(billing, t + 10, 2, rng(6)), tool_name: 'wire_funds', destination: 'bank.example.com' },
      { ...agentEvent(billing, t + 20, 2, rng(7)), agent: null },
    ];
    const recent = (Date.now() - 3_600_000) * 1000; // inside the table's 90-day TTL
    const records = events.map((event, i) => ({
      ...scoreRecord(event, agentView(event), scorer.score(event, agentView(event))),
      time: recent + i,
    }));
    expect(records[1]!.parts.map((p) => p.reason).join()).toContain('wire_funds');
    const codec = createScoreCodec();
    const bodies = records.map((record) => codec.ownBody(codec.encode(record))!);
    await store.insertAvro(SCORES_TABLE, SCORES_FROM_AVRO, { schema: codec.schema, bodies });

    const rows = await store.query(`SELECT * EXCEPT scored_at FROM ${SCORES_TABLE} ORDER BY time`);
    expect(rows).toEqual(
      records.map((r) => ({
        tenant: r.tenant,
        event_id: r.event_id,
        time: clickhouseTime(r.time),
        entity_type: r.entity_type,
        entity: r.entity,
        app: r.app,
        agent: r.agent ?? '',
        score: expect.closeTo(r.score, 6) as unknown, // a Float32 column
        learning: r.learning,
        features: r.parts.map((p) => p.feature),
        reasons: r.parts.map((p) => p.reason),
        model: r.model,
      })),
    );
    expect(rows[2]).toMatchObject({ agent: '', entity_type: 'app' });
  });
});
