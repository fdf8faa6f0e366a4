import type { DeliveryResult, Destination, Notification } from '../notification.ts';
import { describe, expect, it } from 'vitest';
import { backoffMs } from './backoff.ts';
import { CircuitBreaker } from './breaker.ts';
import { deliver, type DeliveryPolicy } from './delivery.ts';

/** A virtual clock: sleeps advance it at once, so budgets and cool-downs are exact. */
function clock() {
  let t = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    hooks: {
      now: () => t,
      sleep: (ms: number) => {
        slept.push(ms);
        t += ms;
        return Promise.resolve();
      },
      random: () => 0.5,
    },
    advance: (ms: number) => (t += ms),
  };
}

function scripted(results: DeliveryResult[]): Destination & { calls: number } {
  const d = {
    name: 'd',
    kind: 'test',
    calls: 0,
    send(): Promise<DeliveryResult> {
      d.calls += 1;
      return Promise.resolve(results.shift() ?? { ok: true, status: 202 });
    },
    async close() {},
  };
  return d;
}

const notification = {
  route: 'r',
  groupKey: 'g',
  tenant: 't',
  status: 'firing',
  labels: {},
  findings: [],
} as Notification;
const policy: DeliveryPolicy = {
  maxAttempts: 5,
  maxElapsedMs: 60_000,
  backoff: { baseMs: 100, capMs: 1000 },
  attemptTimeoutMs: 1000,
};
const fail = (retryAfterMs?: number): DeliveryResult => ({
  ok: false,
  retryable: true,
  reason: '503',
  status: 503,
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
});
const never = new AbortController().signal;

describe('backoff', () => {
  it('grows exponentially to the cap, with full jitter, and never waits less than Retry-After', () => {
    const p = { baseMs: 100, capMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(p, a, undefined, () => 0.999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffMs(p, 3, undefined, () => 0)).toBe(0);
    expect(backoffMs(p, 1, 5000, () => 0.5)).toBe(5000);
  });
});

describe('circuit breaker', () => {
  it('opens after N consecutive failures, lets one probe through after the cool-down, and closes on its success', () => {
    const states: string[] = [];
    const b = new CircuitBreaker({ failures: 2, cooldownMs: 100 }, (s) => states.push(s));
    expect(b.acquire(0).ok).toBe(true);
    b.record(false, 0);
    expect(b.acquire(1).ok).toBe(true);
    b.record(false, 1);
    expect(b.state).toBe('open');
    expect(b.acquire(50)).toEqual({ ok: false, waitMs: 51 });
    expect(b.acquire(101).ok).toBe(true);
    expect(b.state).toBe('half_open');
    expect(b.acquire(102).ok).toBe(false);
    b.record(false, 102);
    expect(b.state).toBe('open');
    expect(b.acquire(202).ok).toBe(true);
    b.record(true, 202);
    expect(states).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });
});

describe('deliver', () => {
  it('retries retryable failures with backoff and delivers', async () => {
    const c = clock();
    const d = scripted([fail(), fail(2000)]);
    const out = await deliver(
      d,
      notification,
      new CircuitBreaker({ failures: 10, cooldownMs: 10 }),
      policy,
      c.hooks,
      never,
    );
    expect(out).toEqual({ kind: 'delivered', attempts: 3, status: 202 });
    expect(c.slept).toEqual([50, 2000]);
  });

  it('never retries a refusal', async () => {
    const d = scripted([{ ok: false, retryable: false, reason: 'bad event', status: 400 }]);
    const out = await deliver(
      d,
      notification,
      new CircuitBreaker({ failures: 1, cooldownMs: 10 }),
      policy,
      clock().hooks,
      never,
    );
    expect(out).toEqual({ kind: 'dead', attempts: 1, reason: 'bad event', status: 400 });
    expect(d.calls).toBe(1);
  });

  it('gives up after the attempts budget, naming the last failure', async () => {
    const d = scripted(Array.from({ length: 10 }, () => fail()));
    const out = await deliver(
      d,
      notification,
      new CircuitBreaker({ failures: 100, cooldownMs: 10 }),
      policy,
      clock().hooks,
      never,
    );
    expect(out.kind).toBe('dead');
    expect(out.attempts).toBe(5);
    expect(out.kind === 'dead' && out.reason).toMatch(/5 attempts.*503/);
  });

  it('gives up when the next wait would pass the time budget', async () => {
    const d = scripted([fail(120_000)]);
    const out = await deliver(
      d,
      notification,
      new CircuitBreaker({ failures: 100, cooldownMs: 10 }),
      policy,
      clock().hooks,
      never,
    );
    expect(out.kind).toBe('dead');
    expect(out.attempts).toBe(1);
  });

  it('waits out an open breaker without spending attempts', async () => {
    const c = clock();
    const breaker = new CircuitBreaker({ failures: 1, cooldownMs: 5000 }, () => undefined);
    breaker.acquire(c.hooks.now());
    breaker.record(false, c.hooks.now());
    const d = scripted([]);
    const out = await deliver(d, notification, breaker, policy, c.hooks, never);
    expect(out).toEqual({ kind: 'delivered', attempts: 1, status: 202 });
    expect(c.slept).toEqual([5000]);
  });

  it('stops when aborted, neither delivered nor dead', async () => {
    const stop = new AbortController();
    stop.abort();
    const out = await deliver(
      scripted([]),
      notification,
      new CircuitBreaker({ failures: 1, cooldownMs: 1 }),
      policy,
      clock().hooks,
      stop.signal,
    );
    expect(out).toEqual({ kind: 'aborted', attempts: 0 });
  });
});
