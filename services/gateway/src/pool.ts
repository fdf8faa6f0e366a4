import { Worker } from 'node:worker_threads';
import { describeError, type CaptureOptions, type Logger } from '@aispm/core';
import { unpackRecords, type Decoded, type Encoding } from './decode.ts';
import type { DecodeReply, DecodeTask, DecodeWorkerData } from './decode-worker.ts';
import { gatewayError } from './errors.ts';
import { UndecodableBody } from './otlp/proto.ts';
import type { Signal } from './otlp/signals.ts';

interface Pending {
  task: DecodeTask;
  resolve: (decoded: Decoded) => void;
  reject: (err: Error) => void;
}

interface Member {
  worker: Worker;
  busy: Pending | null;
  /** It has loaded its modules; a worker that stops before that failed to start. */
  ready: boolean;
}

/** Workers that fail to start this many times in a row: the pool gives up, and bodies are decoded on the main thread. */
const MAX_START_FAILURES = 3;

/**
 * A fixed set of worker threads that run decodeAndMap (protobuf or JSON decoding, span
 * mapping, content detectors, Avro encoding) on large bodies, so the main thread keeps
 * answering while a 16 MB body is mapped. One task per worker at a time; the rest wait in
 * order. The queue needs no bound of its own: every task belongs to a request holding an
 * in-flight slot. A body crosses over without a copy (its buffer is transferred) and the
 * records come back packed in one transferred buffer.
 *
 * Why not piscina: it would do the same in a dependency (and a lockfile change) for ~100
 * lines of code here, and its extras (dynamic sizing, idle timeouts, task cancellation,
 * Atomics-based wake-ups) buy nothing for one fixed kind of task.
 */
export class DecodePool {
  readonly #members: Member[] = [];
  readonly #queue: Pending[] = [];
  readonly #data: DecodeWorkerData;
  readonly #log: Logger;
  #nextId = 0;
  #closed = false;
  #startFailures = 0;

  constructor(options: { size: number; capture: CaptureOptions; log: Logger }) {
    this.#data = { capture: options.capture };
    this.#log = options.log;
    for (let i = 0; i < options.size; i++) this.#members.push(this.#spawn());
  }

  get size(): number {
    return this.#members.length;
  }

  /** False once workers failed to start MAX_START_FAILURES times in a row (the caller decodes on its own thread). */
  get usable(): boolean {
    return this.#members.length > 0;
  }

  /**
   * decodeAndMap on a worker. `body` is handed over: its memory moves to the worker and the
   * buffer is empty here afterwards. Throws UndecodableBody as decodeAndMap does.
   */
  run(body: Buffer, encoding: Encoding, options: { tenant: string; nowMs: number; signal?: Signal }): Promise<Decoded> {
    if (this.#closed || !this.usable) {
      return Promise.reject(
        gatewayError('decode_failed', this.#closed ? 'the gateway is closing' : 'no decode worker'),
      );
    }
    return new Promise((resolve, reject) => {
      const task: DecodeTask = { id: this.#nextId++, body: transferable(body), encoding, ...options };
      this.#queue.push({ task, resolve, reject });
      this.#dispatch();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const pending of this.#queue.splice(0))
      pending.reject(gatewayError('decode_failed', 'the gateway is closing'));
    await Promise.all(this.#members.map((m) => m.worker.terminate()));
  }

  #dispatch(): void {
    for (const member of this.#members) {
      if (this.#queue.length === 0) return;
      if (member.busy) continue;
      const pending = this.#queue.shift()!;
      member.busy = pending;
      member.worker.ref();
      member.worker.postMessage(pending.task, [pending.task.body.buffer as ArrayBuffer]);
    }
  }

  #spawn(): Member {
    const worker = new Worker(new URL('./decode-worker.ts', import.meta.url), {
      workerData: this.#data,
      // The process's flags, less those that only fit the main entry (`node --input-type=module -e ...`).
      execArgv: process.execArgv.filter((arg) => !arg.startsWith('--input-type')),
    });
    const member: Member = { worker, busy: null, ready: false };
    worker.unref();
    worker.on('message', (reply: DecodeReply) => {
      if ('ready' in reply) {
        member.ready = true;
        this.#startFailures = 0;
        return;
      }
      const pending = member.busy;
      member.busy = null;
      worker.unref();
      if (pending && pending.task.id === reply.id) {
        if (reply.ok) {
          pending.resolve({
            records: unpackRecords(reply.packed),
            direct: unpackRecords(reply.packedDirect),
            ignored: reply.ignored,
            links: reply.links,
            merged: reply.merged,
            rejected: reply.rejected,
            dropped: reply.dropped,
          });
        } else {
          pending.reject(
            reply.undecodable ? new UndecodableBody(reply.message) : gatewayError('decode_failed', reply.message),
          );
        }
      }
      this.#dispatch();
    });
    const replace = (why: string): void => {
      if (this.#closed) return;
      const at = this.#members.indexOf(member);
      if (at < 0) return;
      member.busy?.reject(gatewayError('decode_failed', `the decode worker stopped: ${why}`));
      member.busy = null;
      if (!member.ready && ++this.#startFailures >= MAX_START_FAILURES) {
        this.#log.error('gateway: decode workers cannot start; large bodies are decoded on the main thread', {
          error: why,
        });
        for (const other of this.#members.splice(0)) void other.worker.terminate();
        for (const pending of this.#queue.splice(0)) {
          pending.reject(gatewayError('decode_failed', `the decode workers cannot start: ${why}`));
        }
        return;
      }
      this.#log.error('gateway: a decode worker stopped; starting another', { error: why });
      this.#members[at] = this.#spawn();
      this.#dispatch();
    };
    worker.on('error', (err) => replace(describeError(err)));
    worker.on('exit', (code) => replace(`exit code ${code}`));
    return member;
  }
}

/** A view covering its whole ArrayBuffer can be transferred as it is; any other is copied first. */
function transferable(body: Buffer): Uint8Array {
  const whole =
    body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
  return whole ? body : new Uint8Array(body);
}
