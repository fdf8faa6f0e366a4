/**
 * A circuit breaker per destination: after `failures` consecutive failed attempts
 * it opens and refuses attempts for `cooldownMs`, then lets one probe through
 * (half-open); the probe's success closes it, its failure opens it again. While
 * open, deliveries wait instead of spending their attempts on a receiver that is down.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  failures: number;
  cooldownMs: number;
}

export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #consecutive = 0;
  #openedAt = 0;
  #probing = false;

  readonly options: BreakerOptions;
  readonly onChange: (state: BreakerState) => void;

  constructor(options: BreakerOptions, onChange: (state: BreakerState) => void = () => undefined) {
    this.options = options;
    this.onChange = onChange;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Whether an attempt may go now; when not, how long until it may ask again. In
   * half-open state only one probe is out at a time.
   */
  acquire(now: number): { ok: true } | { ok: false; waitMs: number } {
    if (this.#state === 'open') {
      const left = this.#openedAt + this.options.cooldownMs - now;
      if (left > 0) return { ok: false, waitMs: left };
      this.#set('half_open');
    }
    if (this.#state === 'half_open') {
      if (this.#probing) return { ok: false, waitMs: Math.max(10, Math.floor(this.options.cooldownMs / 10)) };
      this.#probing = true;
    }
    return { ok: true };
  }

  /** The outcome of an attempt that acquire let through; `healthy` is false for a retryable failure. */
  record(healthy: boolean, now: number): void {
    this.#probing = false;
    if (healthy) {
      this.#consecutive = 0;
      if (this.#state !== 'closed') this.#set('closed');
      return;
    }
    this.#consecutive += 1;
    if (this.#state === 'half_open' || this.#consecutive >= this.options.failures) {
      this.#openedAt = now;
      this.#set('open');
    }
  }

  #set(state: BreakerState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.onChange(state);
  }
}
