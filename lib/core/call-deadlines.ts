interface PendingCall {
  expiresAt: number;
  reject: (error: Error) => void;
}

/**
 * Fails calls that a store has not answered within `ms`, for stores whose client has no command
 * timeout of its own (a database pool, the filesystem), so that one that hangs fails like one
 * that is down. The call itself goes on; its late result is dropped.
 *
 * One sweeping timer serves every call in flight, instead of a `setTimeout` per call: a timer per
 * call costs more than a fast store's whole answer (an SQLite read). The sweep runs every
 * `ms / 4` while calls are in flight and stops on the first sweep that finds none, so a call
 * fails between `ms` and `1.25 * ms` after it started, and an idle store keeps no timer.
 */
export class CallDeadlines {
  private readonly pending = new Set<PendingCall>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly alias: string,
  ) {}

  /** Calls in flight, for tests: bounded by the store's concurrency, never by its history. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Whether the sweeping timer runs. */
  get sweeping(): boolean {
    return this.sweeper !== undefined;
  }

  race<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: PendingCall = { expiresAt: performance.now() + this.ms, reject };
      this.pending.add(entry);
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(this.ms / 4, 1)).unref();
      call.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.pending.delete(entry);
          reject(error);
        },
      );
    });
  }

  private sweep(): void {
    if (this.pending.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      return;
    }
    const now = performance.now();
    for (const entry of this.pending) {
      if (entry.expiresAt > now) continue;
      this.pending.delete(entry);
      entry.reject(new Error(`no answer within ${this.ms} ms (commandTimeoutMs of cache '${this.alias}')`));
    }
  }
}
