// Enough for any real concurrency of distinct keys; only computations that never settle (a
// factory that hangs) could fill it, and then new keys run unshared rather than grow memory.
const DEFAULT_MAX_RUNNING = 10_000;
// Keys whose last run after a failed read is remembered: a store that is down for long over many
// keys must not grow memory without limit. Past it, the oldest key's run is forgotten.
const MAX_REMEMBERED_OUTAGE_RUNS = 1000;

/**
 * Computations running right now, by key: a caller that finds one running joins it instead of
 * starting its own (`run`). A store's `getOrSet` (its strategies, and through it the method
 * layer) and the page cache share computations through this one primitive. An entry lives only
 * while its computation runs; past `max` of them, new keys run without sharing.
 *
 * A second mode serves callers whose read of the store failed (`afterFailedRead`). A store
 * that hangs fails each read after its own `commandTimeoutMs`: the reads of a burst of callers
 * fail one by one, spread over the time the burst took to send, and a flight forgotten when it
 * settles would start a new run for each of them. Here a caller whose read was under way before
 * such a run finished gets that run's result; a caller that starts reading later gets a run of
 * its own, since nothing is cached while the store fails.
 */
export class Flights {
  private readonly running = new Map<string, Promise<unknown>>();
  /**
   * Reads of the store started so far, bumped by each caller that may fail open before it reads:
   * a read's number says which outage runs it was concurrent with. A field, not a method, so the
   * hottest read pays one increment.
   */
  reads = 0;
  private readonly outageRuns = new Map<string, { result: Promise<unknown>; settledAfterRead: number }>();

  constructor(private readonly max = DEFAULT_MAX_RUNNING) {}

  /** The running computation of `key`, or a new one from `start`, whose settling forgets it. */
  run<T>(key: string, start: () => Promise<T>): Promise<T> {
    const running = this.running.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    if (this.running.size >= this.max) return start();
    const started = start();
    this.running.set(key, started);
    const forget = () => {
      if (this.running.get(key) === started) this.running.delete(key);
    };
    started.then(forget, forget);
    return started;
  }

  /** The computation of `key` running now, if any. */
  runningNow(key: string): Promise<unknown> | undefined {
    return this.running.get(key);
  }

  /** How many computations run now. */
  get size(): number {
    return this.running.size;
  }

  /**
   * What a caller whose read `readNumber` failed gets: the computation of `key` running now (a
   * caller whose read succeeded started it), else the run that read was concurrent with, else a
   * new one from `start`.
   */
  afterFailedRead<T>(key: string, readNumber: number, start: () => Promise<T>): Promise<T> {
    const running = this.running.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    const known = this.outageRuns.get(key);
    if (known !== undefined && readNumber <= known.settledAfterRead) return known.result as Promise<T>;
    const entry = { result: start() as Promise<unknown>, settledAfterRead: Infinity };
    this.outageRuns.delete(key); // re-inserted last: the oldest key is the first one
    if (this.outageRuns.size >= MAX_REMEMBERED_OUTAGE_RUNS)
      this.outageRuns.delete(this.outageRuns.keys().next().value!);
    this.outageRuns.set(key, entry);
    const settle = () => {
      entry.settledAfterRead = this.reads;
    };
    entry.result.then(settle, settle);
    return entry.result as Promise<T>;
  }

  /** Whether a run after failed reads is remembered (so a read that succeeds should say so). */
  get remembersOutages(): boolean {
    return this.outageRuns.size > 0;
  }

  /** The store answered a read of `key`: its outage run, if any, is over. */
  answered(key: string): void {
    this.outageRuns.delete(key);
  }
}
