import { randomBytes } from 'node:crypto';
import { ChdbStore, type Store } from '@aispm/store';
import { until } from '../support/until.ts';
import { lastLogs, spawnUp, type Up } from '../processor/support.ts';

/**
 * The fault suites' parts: a stock-shaped OTLP/JSON sender that remembers which
 * spans were acknowledged (answered 200), `aispm up` children, and the ledger
 * that compares the acknowledged spans with what the store holds.
 */

export const TENANT = 'acme';
export const KEY = 'acme-key-0123456789abcdef';

export interface SendingOptions {
  /** Concurrent senders (default 4). */
  senders?: number;
  /** Spans per request (default 250). */
  spansPerRequest?: number;
  /** A sender's pause after each answered request (default none). */
  pauseMs?: number;
  /**
   * One span of every request asks for a model of its own that the example policy
   * does not approve, so each request raises one new shadow-AI finding (default off).
   */
  shadowModels?: boolean;
}

/** `tenant/trace/span` of a span, as the store holds it. */
export type SpanRef = string;

export interface Sent {
  /** Spans in requests answered 200. */
  acked: Set<SpanRef>;
  /** Spans of every request sent, answered or not. */
  sent: Set<SpanRef>;
  /** Answers by status (0: no answer, the connection broke). */
  statuses: Map<number, number>;
}

export interface Sending {
  /** What has been sent and acknowledged so far (grows until stop). */
  sent: Sent;
  /** Stops sending; resolves once every sender's last request is answered or broken. */
  stop(): Promise<Sent>;
}

/**
 * Sends OTLP/JSON requests of GenAI spans to `url` (or wherever it points at the
 * time, for a gateway restarted elsewhere) from concurrent senders until stopped,
 * adding to `into` when given.
 */
export function startSending(url: string | (() => string), options: SendingOptions = {}, into?: Sent): Sending {
  const { senders = 4, spansPerRequest = 250, pauseMs = 0, shadowModels = false } = options;
  const sent: Sent = into ?? { acked: new Set(), sent: new Set(), statuses: new Map() };
  const target = typeof url === 'string' ? () => url : url;
  const stopping = new AbortController();
  const count = (status: number): void => {
    sent.statuses.set(status, (sent.statuses.get(status) ?? 0) + 1);
  };
  const sender = async (n: number): Promise<void> => {
    while (!stopping.signal.aborted) {
      const { body, refs } = otlpRequest(`agent-${n}`, spansPerRequest, shadowModels);
      for (const ref of refs) sent.sent.add(ref);
      let status = 0;
      try {
        const response = await fetch(`${target()}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
          body,
          signal: AbortSignal.timeout(20_000),
        });
        status = response.status;
        await response.arrayBuffer();
      } catch {
        status = 0;
      }
      count(status);
      if (status === 200) for (const ref of refs) sent.acked.add(ref);
      const pause = status === 200 ? pauseMs : 100;
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };
  const running = Promise.all(Array.from({ length: senders }, (_, n) => sender(n)));
  return {
    sent,
    async stop() {
      stopping.abort();
      await running;
      return sent;
    },
  };
}

function otlpRequest(agent: string, count: number, shadowModel: boolean): { body: string; refs: SpanRef[] } {
  const now = BigInt(Date.now()) * 1_000_000n;
  const refs: SpanRef[] = [];
  const shadow = `unapproved-${randomBytes(6).toString('hex')}`;
  const spans = Array.from({ length: count }, (_, i) => {
    const model = shadowModel && i === 0 ? shadow : 'gpt-4o';
    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    refs.push(`${TENANT}/${traceId}/${spanId}`);
    const start = now - BigInt(i) * 1_000_000n;
    return {
      traceId,
      spanId,
      name: 'chat gpt-4o',
      kind: 3,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + 250_000_000n),
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.provider.name', value: { stringValue: 'openai' } },
        { key: 'gen_ai.request.model', value: { stringValue: model } },
        { key: 'gen_ai.agent.name', value: { stringValue: agent } },
        { key: 'gen_ai.usage.input_tokens', value: { intValue: String(100 + i) } },
        { key: 'gen_ai.usage.output_tokens', value: { intValue: '40' } },
      ],
      status: {},
    };
  });
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fault-app' } }] },
        scopeSpans: [{ scope: { name: 'fault-suite' }, spans }],
      },
    ],
  };
  return { body: JSON.stringify(body), refs };
}

/** Starts `aispm up` and resolves with its gateway's URL once it listens. */
export async function startUp(name: string, env: NodeJS.ProcessEnv): Promise<{ up: Up; url: string }> {
  const up = spawnUp(name, env);
  let url = '';
  await until(
    () => {
      for (const line of up.logs) {
        const match = /"gateway":"(http:\/\/[^"]+)"/.exec(line);
        if (match?.[1]) url = match[1];
      }
      return url !== '';
    },
    `${name}: aispm up to listen`,
    { timeoutMs: 60_000, context: lastLogs(up) },
  );
  return { up, url };
}

export interface Ledger {
  acked: number;
  stored: number;
  lost: number;
  /** Stored spans this test never sent. */
  unknown: number;
  /** Rows beyond one per event id, in events and in scores, counted without FINAL's merge. */
  duplicateEvents: number;
  duplicateScores: number;
  /** Scores whose event row is missing. */
  orphanScores: number;
  /** Events without a score. */
  unscored: number;
}

/** Opens the store (the child must have exited) and compares it with what was acknowledged. */
export async function ledger(chdbPath: string, sent: Sent): Promise<Ledger> {
  const store = await ChdbStore.open({ path: chdbPath, database: 'aispm' });
  try {
    return await storeLedger(store, sent);
  } finally {
    await store.close();
  }
}

/** Compares what `store` holds with what was acknowledged. */
export async function storeLedger(store: Pick<Store, 'query'>, sent: Sent): Promise<Ledger> {
  const rows = await store.query<{ ref: string }>(
    `SELECT concat(tenant, '/', trace_id, '/', span_id) AS ref FROM events FINAL`,
  );
  const stored = new Set(rows.map((r) => r.ref));
  const [counts] = await store.query<Record<string, string | number>>(
    `SELECT
       (SELECT count() FROM events FINAL) - (SELECT uniqExact(tenant, event_id) FROM events) AS duplicate_events,
       (SELECT count() FROM anomaly_scores FINAL) - (SELECT uniqExact(tenant, event_id) FROM anomaly_scores) AS duplicate_scores,
       (SELECT count() FROM anomaly_scores FINAL WHERE (tenant, event_id) NOT IN (SELECT tenant, event_id FROM events)) AS orphan_scores,
       (SELECT count() FROM events FINAL WHERE (tenant, event_id) NOT IN (SELECT tenant, event_id FROM anomaly_scores)) AS unscored`,
  );
  let lost = 0;
  for (const ref of sent.acked) if (!stored.has(ref)) lost++;
  let unknown = 0;
  for (const ref of stored) if (!sent.sent.has(ref)) unknown++;
  return {
    acked: sent.acked.size,
    stored: stored.size,
    lost,
    unknown,
    duplicateEvents: Number(counts!.duplicate_events),
    duplicateScores: Number(counts!.duplicate_scores),
    orphanScores: Number(counts!.orphan_scores),
    unscored: Number(counts!.unscored),
  };
}

/** One line of the suite's printed counts. */
export function describeRun(label: string, sent: Sent, l: Ledger): string {
  const statuses = [...sent.statuses].map(([s, n]) => `${s === 0 ? 'no answer' : s}: ${n}`).join(', ');
  return (
    `${label}: sent ${sent.sent.size} spans (requests ${statuses}); acknowledged ${l.acked}, stored ${l.stored}, ` +
    `lost ${l.lost}, unknown ${l.unknown}, duplicate events ${l.duplicateEvents}, duplicate scores ${l.duplicateScores}, ` +
    `scores without event ${l.orphanScores}, events without score ${l.unscored}`
  );
}
