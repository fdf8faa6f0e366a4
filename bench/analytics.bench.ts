import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createEventCodec, type AiEvent, type Finding } from '@aispm/core';
import { generateTraffic } from '@aispm/cli';
import { behaviourRaiser, Scorer } from '@aispm/processor';
import { cv, machineBusy, median, type Benchmark } from './harness.ts';

/**
 * In-process analytics: Avro decode → baseline → score (and drift windows) →
 * behavioural detectors and the findings lifecycle, as the agents stage runs them
 * (AISPM_BENCH_DETECTIONS=false leaves the detectors out, for a comparison), no
 * I/O, on the demo's mixed traffic spread over 100,000 distinct entities (each
 * demo agent cloned into ENTITIES / 9 keys, so every entity keeps one agent's
 * profile). One pass of PASS_EVENTS pre-encoded events is replayed PASSES times,
 * each replay shifted PASS_HOURS later in event time, so entities leave learning
 * and carry a realistic state.
 *
 * events_per_sec_per_core: events over the CPU time (user + system) of this
 * process during a pass, median over the measured passes (the first WARMUP passes,
 * where maps and state grow, are not measured). GC threads count, so it errs low.
 * bytes_per_entity: growth of V8 heap + ArrayBuffer memory after a full GC, from
 * before the first event to after the last, divided by the entities held: Map
 * entries, key strings, the dirty-key set and every baseline (the objects, and the
 * arena chunks whole: blocks in use, released blocks and the unused tail) included.
 */
const ENTITIES = 100_000;
const PASS_EVENTS = 200_000;
const PASSES = 30;
const WARMUP = 3;
const PASS_HOURS = 6;

const gc = ((): (() => void) => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** V8 heap plus ArrayBuffer backing stores (typed arrays over 64 bytes live outside the heap). */
function memoryAfterGc(): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

function encodedPass(endMs: number): Buffer[] {
  const codec = createEventCodec();
  const perAgent = Math.ceil(ENTITIES / 9);
  const out: Buffer[] = [];
  const next = new Map<string, number>();
  for (const event of generateTraffic({
    seed: 11,
    total: PASS_EVENTS,
    tenant: 'bench',
    spanMs: PASS_HOURS * 3_600_000,
    endMs,
  })) {
    // Each agent's events go round its clones, so every clone keeps that agent's profile.
    const agent = event.agent ?? 'app';
    const clone = next.get(agent) ?? 0;
    next.set(agent, (clone + 1) % perAgent);
    out.push(codec.encode({ ...event, agent: `${agent}-${clone}` }));
  }
  return out;
}

const bench: Benchmark = {
  description: `decode → baseline → score, no I/O: demo traffic over ${ENTITIES.toLocaleString('en-US')} entities, ${PASSES} replays of ${PASS_EVENTS.toLocaleString('en-US')} events`,
  // Synchronous work: the Promise only meets the Benchmark interface.
  run(progress) {
    const startMs = Date.UTC(2026, 10, 1);
    const encoded = encodedPass(startMs + PASS_HOURS * 3_600_000);
    const bytes = encoded.reduce((n, b) => n + b.length, 0);
    progress(`encoded ${encoded.length.toLocaleString('en-US')} events (${Math.round(bytes / encoded.length)} B each)`);
    const codec = createEventCodec();
    const endMs = startMs + (PASSES + 1) * PASS_HOURS * 3_600_000;
    const heapBefore = memoryAfterGc();
    const detections = process.env.AISPM_BENCH_DETECTIONS !== 'false';
    const scorer = new Scorer({
      now: () => endMs,
      ...(detections ? { findings: { raiser: behaviourRaiser(), quietMinutes: 60 } } : {}),
    });
    let findings = 0;
    const rates: number[] = [];
    const wallRates: number[] = [];
    let flagged = 0;
    const flaggedBy: Record<string, number> = {};
    let scored = 0;
    for (let pass = 0; pass < PASSES; pass++) {
      const shiftUs = pass * PASS_HOURS * 3_600_000_000;
      const cpu = process.cpuUsage();
      const wall = performance.now();
      for (const bytes of encoded) {
        const event: AiEvent = codec.decode(bytes);
        event.time += shiftUs;
        const found: Finding[] = [];
        const score = scorer.score(event, undefined, undefined, found);
        findings += found.length;
        if (!score.learning) {
          scored++;
          if (score.score >= 0.5) {
            flagged++;
            const top = score.parts[0]?.feature ?? 'none';
            flaggedBy[top] = (flaggedBy[top] ?? 0) + 1;
          }
        }
      }
      scorer.takeDriftReports();
      const used = process.cpuUsage(cpu);
      const seconds = (used.user + used.system) / 1e6;
      const wallSeconds = (performance.now() - wall) / 1000;
      if (pass >= WARMUP) {
        rates.push(encoded.length / seconds);
        wallRates.push(encoded.length / wallSeconds);
      }
      if (pass % 5 === 4 || pass === PASSES - 1)
        progress(
          `pass ${pass + 1}/${PASSES}: ${Math.round(encoded.length / seconds).toLocaleString('en-US')} events/s per core, ${scorer.entities.toLocaleString('en-US')} entities`,
        );
    }
    const heapAfter = memoryAfterGc();
    const entities = scorer.entities;
    let snapshotBytes = 0;
    let sampled = 0;
    for (const key of scorer.takeDirty()) {
      if (sampled++ >= 1000) break;
      snapshotBytes += scorer.snapshot(key)?.length ?? 0;
    }
    const spread = cv(rates);
    return Promise.resolve({
      metrics: {
        events_per_sec_per_core: { value: Math.round(median(rates)), unit: 'events/s' },
        bytes_per_entity: { value: Math.round((heapAfter - heapBefore) / entities), unit: 'bytes' },
      },
      params: {
        entities,
        pass_events: encoded.length,
        passes: PASSES,
        warmup_passes: WARMUP,
        event_time_covered_hours: PASSES * PASS_HOURS,
        detections,
        findings_raised: findings,
        wall_events_per_sec: Math.round(median(wallRates)),
        snapshot_bytes_per_entity: Math.round(snapshotBytes / Math.min(sampled, 1000)),
        flagged_share_non_learning: Number((flagged / Math.max(scored, 1)).toFixed(5)),
        flagged_by_top_part: flaggedBy,
        memory_measure: 'growth of V8 heapUsed + arrayBuffers after full GC / entities',
      },
      noisy: machineBusy() || spread > 0.1,
      notes: [`pass rates cv ${spread.toFixed(3)}`],
    });
  },
};

export default bench;
