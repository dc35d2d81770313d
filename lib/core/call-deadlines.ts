/** Calls that began between two sweeps, and how many of them are still in flight. */
interface Slot {
  /** Each call's way to fail; a no-op once the call has answered. */
  fails: Array<(error: unknown) => void>;
  inFlight: number;
}

// Sweeps per deadline: a call fails 4 to 5 sweeps (ms to 1.25 * ms) after it began.
const SWEEPS_PER_DEADLINE = 4;

/**
 * Fails calls that a store has not answered within `ms`, for stores whose client has no command
 * timeout of its own (a database pool, the filesystem, a Keyv store), so that one that hangs fails
 * like one that is down. The call itself goes on; its late result is dropped.
 *
 * A timer wheel: one sweeping timer serves every call in flight, instead of a `setTimeout` per
 * call, and a call reads no clock: it joins the slot of the current sweep, and a slot's calls
 * still in flight fail once four more sweeps (every `ms / 4`) have passed, between `ms` and
 * `1.25 * ms` after they began. Slots are arrays (a `Set` per call costs more than a fast store's
 * answer), let go as soon as their last call answers. The timer stops on the first sweep that
 * finds nothing in flight, so an idle store keeps no timer.
 */
export class CallDeadlines {
  private open: Slot = { fails: [], inFlight: 0 };
  /** Oldest first, at most SWEEPS_PER_DEADLINE. */
  private readonly closed: Slot[] = [];
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly alias: string,
  ) {}

  /** Calls in flight, for tests: bounded by the store's concurrency, never by its history. */
  get inFlight(): number {
    return this.closed.reduce((sum, slot) => sum + slot.inFlight, this.open.inFlight);
  }

  /** Whether the sweeping timer runs. */
  get sweeping(): boolean {
    return this.sweeper !== undefined;
  }

  /**
   * `call`, or a failure once the deadline passes. `onValue` and `onError`, as `then`'s, see the
   * answer or the failure (the deadline's too) without a second promise.
   */
  race<T, R = T>(
    call: Promise<T>,
    onValue?: (value: T) => R | PromiseLike<R>,
    onError?: (error: unknown) => R | PromiseLike<R>,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const slot = this.open;
      let answered = false;
      const settle = (): boolean => {
        if (answered) return false;
        answered = true;
        if (--slot.inFlight === 0) slot.fails = [];
        return true;
      };
      const fail = (error: unknown): void => {
        if (!settle()) return;
        if (onError === undefined) reject(error);
        else resolveWith(resolve, reject, onError, error);
      };
      slot.fails.push(fail);
      slot.inFlight++;
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(this.ms / SWEEPS_PER_DEADLINE, 1)).unref();
      call.then((value) => {
        if (!settle()) return;
        if (onValue === undefined) resolve(value as unknown as R);
        else resolveWith(resolve, reject, onValue, value);
      }, fail);
    });
  }

  private sweep(): void {
    if (this.inFlight === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      this.closed.length = 0;
      this.open.fails = [];
      return;
    }
    this.closed.push(this.open);
    this.open = { fails: [], inFlight: 0 };
    if (this.closed.length <= SWEEPS_PER_DEADLINE) return;
    const expired = this.closed.shift()!;
    if (expired.inFlight === 0) return;
    // One error for the slot's calls that hang: they failed for one reason, at one sweep.
    const error = new Error(`no answer within ${this.ms} ms (commandTimeoutMs of cache '${this.alias}')`);
    for (const fail of expired.fails) fail(error);
  }
}

function resolveWith<A, R>(
  resolve: (value: R | PromiseLike<R>) => void,
  reject: (error: unknown) => void,
  callback: (argument: A) => R | PromiseLike<R>,
  argument: A,
): void {
  try {
    resolve(callback(argument));
  } catch (error) {
    reject(error);
  }
}
