/** Calls that began between two sweeps, and how many of them are still in flight. */
interface Slot {
  /** Each call's way to fail, cleared once the call has answered, so an answer holds nothing. */
  fails: Array<((error: unknown) => void) | undefined>;
  inFlight: number;
  /** When the sweep closed it: every call in it began at or before this time. */
  closedAt: number;
}

// A call waits up to one sweep for its slot to be stamped and one more to be failed:
// it fails between ms and ms + 2 * ms / 8 = 1.25 * ms after it began, plus the event loop's lag.
const SWEEPS_PER_DEADLINE = 8;
// Node runs a longer delay after 1 ms (with a TimeoutOverflowWarning).
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * Fails calls that a store has not answered within `ms`, for stores whose client has no command
 * timeout of its own (a database pool, the filesystem, a Keyv store), so that one that hangs fails
 * like one that is down. The call itself goes on; its late result is dropped.
 *
 * A timer wheel: one sweeping timer serves every call in flight, instead of a `setTimeout` per
 * call, and a call reads no clock: it joins the open slot. Each sweep (every `ms / 8`) reads the
 * clock once, closes the open slot stamped with that time, and fails the calls still in flight in
 * every slot closed at least `ms` ago: never before `ms`, and a late sweep delays the failure by
 * its own lateness only. Slots are arrays (a `Set` per call costs more than a fast store's
 * answer), let go as soon as their last call answers. The timer stops on the first sweep that
 * finds nothing in flight, so an idle store keeps no timer.
 */
export class CallDeadlines {
  private open = openSlot();
  /** Oldest first; each sweep drops those closed `ms` ago or more, so they hold the last `ms`'s sweeps at most. */
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
      // Where this call's fail sits in the slot; -1 once the call has answered or failed.
      let index = -1;
      const settle = (): boolean => {
        if (index < 0) return false;
        if (--slot.inFlight === 0) slot.fails = [];
        else slot.fails[index] = undefined;
        index = -1;
        return true;
      };
      const fail = (error: unknown): void => {
        if (!settle()) return;
        if (onError === undefined) reject(error);
        else resolveWith(resolve, reject, onError, error);
      };
      index = slot.fails.push(fail) - 1;
      slot.inFlight++;
      this.sweeper ??= setInterval(
        () => this.sweep(),
        Math.min(Math.max(this.ms / SWEEPS_PER_DEADLINE, 1), LONGEST_TIMER_MS),
      ).unref();
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
    const now = performance.now();
    if (this.open.inFlight > 0) {
      this.open.closedAt = now;
      this.closed.push(this.open);
      this.open = openSlot();
    }
    let error: Error | undefined;
    while (this.closed.length > 0) {
      const oldest = this.closed[0]!;
      if (oldest.inFlight > 0 && now - oldest.closedAt < this.ms) return;
      this.closed.shift();
      if (oldest.inFlight === 0) continue;
      // One error for the calls that hang: they failed for one reason, at one sweep.
      error ??= new Error(`no answer within ${this.ms} ms (commandTimeoutMs of cache '${this.alias}')`);
      for (const fail of oldest.fails) fail?.(error);
    }
  }
}

function openSlot(): Slot {
  return { fails: [], inFlight: 0, closedAt: 0 };
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
