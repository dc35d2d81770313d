// Enough for any real concurrency of distinct keys; only computations that never settle (a
// factory that hangs) could fill it, and then new keys run unshared rather than grow memory.
const DEFAULT_MAX_IN_FLIGHT = 10_000;

/**
 * Computations running right now, by key: a caller that finds one running joins it instead of
 * starting its own. An entry lives only while its computation runs, so the map holds at most the
 * keys being computed at once; past `max` of them, new keys run without sharing.
 */
export class SingleFlight {
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(private readonly max = DEFAULT_MAX_IN_FLIGHT) {}

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

  has(key: string): boolean {
    return this.running.has(key);
  }

  /** How many computations run now. */
  get size(): number {
    return this.running.size;
  }
}
