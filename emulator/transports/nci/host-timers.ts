/** The NCI host's timers and pauses: each one tracked, so that stopping the host cancels them all at once. */

export class HostTimers {
  private readonly _timers = new Set<NodeJS.Timeout>();
  private readonly _wakers = new Set<() => void>();

  start(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      fn();
    }, ms);
    this._timers.add(timer);
    return timer;
  }

  clear(timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    this._timers.delete(timer);
  }

  /** A pause that ends early when `cancelAll` runs. */
  delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this._wakers.delete(wake);
        this.clear(timer);
        resolve();
      };
      const timer = this.start(ms, wake);
      this._wakers.add(wake);
    });
  }

  /** Clears every timer and ends every pause. */
  cancelAll(): void {
    for (const timer of this._timers) clearTimeout(timer);
    this._timers.clear();
    for (const wake of [...this._wakers]) wake();
  }
}
