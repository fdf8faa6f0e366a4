import { Worker } from 'node:worker_threads';
import { describeError } from '@aispm/core';

/**
 * Copies the SQLite bus's WAL back into its database file from a worker thread, on its
 * own connection, every `intervalMs`. A checkpoint writes and fsyncs the database file:
 * done by a commit on the event loop it took about half the time of publishing (tens
 * of ms every few MB), here it runs beside it. PASSIVE never blocks the writer; once it
 * has caught up, the next commit starts the WAL over from its beginning.
 *
 * The worker's code is inline (eval), so it runs the same from sources, tests and a
 * bundle; it needs nothing but node:sqlite.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.file, { timeout: 1000 });
let failed = false;
const timer = setInterval(() => {
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    failed = false;
  } catch (err) {
    // Reported once per run of failures; the writer's own autocheckpoint still bounds the WAL.
    if (!failed) parentPort.postMessage({ error: String(err && err.message || err) });
    failed = true;
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the worker once its checkpoint in progress, if any, is done. */
  stop(): Promise<void>;
}

export function startCheckpointer(file: string, intervalMs: number, onError: (message: string) => void): Checkpointer {
  const worker = new Worker(WORKER, { eval: true, workerData: { file, intervalMs } });
  worker.unref();
  worker.on('message', (message: { error: string }) => onError(`checkpointing ${file} failed: ${message.error}`));
  worker.on('error', (err: unknown) => onError(`the checkpointer of ${file} stopped: ${describeError(err)}`));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop() {
      // Awaited by close(): the unref'd worker must keep the process alive until it is done.
      worker.ref();
      worker.postMessage('stop');
      return exited;
    },
  };
}
