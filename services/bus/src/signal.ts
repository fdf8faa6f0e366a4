/**
 * A wake-up call for one waiting loop: `notify()` resolves the pending `wait()`, or,
 * when nobody waits yet, makes the next `wait()` return at once, so a notification
 * that races the check before waiting is never lost.
 */
export class Signal {
  #pending = false;
  #wake: (() => void) | undefined;

  notify(): void {
    if (this.#wake) {
      const wake = this.#wake;
      this.#wake = undefined;
      wake();
    } else {
      this.#pending = true;
    }
  }

  /** Resolves on the next notification, or after `timeoutMs` when given. */
  wait(timeoutMs?: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      if (timeoutMs === undefined) {
        this.#wake = resolve;
        return;
      }
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, timeoutMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
