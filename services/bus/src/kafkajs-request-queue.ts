import { createRequire } from 'node:module';

/**
 * A fix for kafkajs 2.2.4's RequestQueue#scheduleCheckPendingRequests. After every
 * broker response it arms a timer for `throttledUntil - Date.now()` ms, and
 * throttledUntil is -1 unless the broker throttles: the delay is hugely negative,
 * Node clamps it to 1 ms, and each connection then spins a 1 ms timer loop that
 * checks an empty queue, forever. Node 24 reports each such timer as a
 * TimeoutNegativeWarning. Upstream: tulios/kafkajs#1704 and #1751 (fixes proposed in
 * #1755 and #1768, unreleased). The replacement arms a timer only while requests wait
 * (a new one is armed when a request is queued): at the end of the throttle, or
 * after kafkajs's usual 10 ms. It is installed only over the exact buggy code.
 */
interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

let installed = false;

/** The fixed RequestQueue#scheduleCheckPendingRequests (what verifyKafkajsFixes looks for). */
export function scheduleCheckPendingRequests(this: RequestQueue): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const throttledFor = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS,
  );
}

/** Installs the fix once per process; true when kafkajs's code is the one it fixes. */
export function fixKafkajsRequestQueue(): boolean {
  if (installed) return true;
  const require = createRequire(import.meta.url);
  const { prototype } = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue };
  if (!prototype.scheduleCheckPendingRequests.toString().includes('this.throttledUntil - Date.now()')) return false;
  prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  installed = true;
  return true;
}
