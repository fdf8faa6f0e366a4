import { parentPort, workerData } from 'node:worker_threads';

/**
 * The gateway benchmark's client side, on its own thread so the benchmark can
 * take its CPU time out of the process's and charge the gateway only for its own.
 */
export interface SendJob {
  url: string;
  key: string;
  bodies: Uint8Array[];
  requests: number;
  concurrency: number;
}

export interface SendResult {
  latencies: number[];
  failures: number;
  /** CPU microseconds this thread used since it started (user + system). */
  cpuMicros: number;
}

async function run(job: SendJob): Promise<SendResult> {
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const headers = { 'content-type': 'application/x-protobuf', authorization: `Bearer ${job.key}` };
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (next < job.requests) {
        const body = job.bodies[next++ % job.bodies.length]!;
        const started = performance.now();
        const response = await fetch(job.url, { method: 'POST', body, headers });
        await response.arrayBuffer();
        if (response.status !== 200) failures++;
        latencies.push(performance.now() - started);
      }
    }),
  );
  // Since the thread started: its start-up is sender work too, not the gateway's.
  const used = process.threadCpuUsage();
  return { latencies, failures, cpuMicros: used.user + used.system };
}

parentPort?.postMessage(await run(workerData as SendJob));
