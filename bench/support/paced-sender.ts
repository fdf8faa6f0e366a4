import { parentPort, workerData } from 'node:worker_threads';

/**
 * The embedded bench's client: posts OTLP bodies at a steady rate (or as fast as
 * `concurrency` allows) on its own thread, and reports when each request was
 * answered and how. The main thread turns answers into latencies.
 */
export interface PacedJob {
  url: string;
  key: string;
  bodies: Uint8Array[];
  /** Per body, the offset of each span's 16-byte trace id: the sender writes the round and request number into its last 8 bytes, so no two spans of a run repeat. */
  traceIdAt: number[][];
  round: number;
  spansPerBody: number;
  /** Spans per second to offer; null floods (as fast as `concurrency` requests allow). */
  rate: number | null;
  durationMs: number;
  concurrency: number;
}

export interface Answer {
  /** performance.timeOrigin-based milliseconds (Date.now scale) of the answer. */
  at: number;
  status: number;
  spans: number;
}

export interface PacedResult {
  answers: Answer[];
}

async function run(job: PacedJob): Promise<PacedResult> {
  const answers: Answer[] = [];
  const headers = { 'content-type': 'application/x-protobuf', authorization: `Bearer ${job.key}` };
  const started = Date.now();
  const interval = job.rate === null ? 0 : (job.spansPerBody / job.rate) * 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      for (;;) {
        const i = next++;
        const due = started + i * interval;
        if (due - started >= job.durationMs || Date.now() - started >= job.durationMs) return;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        let status = 0;
        try {
          const response = await fetch(job.url, { method: 'POST', body: unique(job, i), headers });
          await response.arrayBuffer();
          status = response.status;
        } catch {
          status = 0;
        }
        answers.push({ at: Date.now(), status, spans: job.spansPerBody });
        // Turned away (backpressure): back off briefly, as an OTLP exporter would.
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }),
  );
  return { answers };
}

function unique(job: PacedJob, i: number): Buffer {
  const n = i % job.bodies.length;
  const body = Buffer.from(job.bodies[n]!);
  for (const at of job.traceIdAt[n]!) {
    body.writeUInt32BE(job.round, at + 8);
    body.writeUInt32BE(i, at + 12);
  }
  return body;
}

parentPort?.postMessage(await run(workerData as PacedJob));
