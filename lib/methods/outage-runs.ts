// Keys whose last outage run is remembered: a store that is down for long over many keys must not
// grow memory without limit. Past it, the oldest key's run is forgotten.
const MAX_REMEMBERED_KEYS = 1000;

/**
 * The runs of one decorated method while its store fails, by key, each shared by every caller
 * whose read of the store was under way before the run finished.
 *
 * A store that hangs fails each read after its own `commandTimeoutMs`: the reads of a burst of
 * callers fail one by one, spread over the time the burst took to send. A single flight that
 * forgets a run when it settles would start a new run for each caller whose read failed after
 * that; here those callers still get the run they were concurrent with. A caller that starts
 * reading after a run finished gets a run of its own: nothing is cached in the process.
 */
export class OutageRuns {
  /** Reads started so far: a read's number says which runs it was concurrent with. */
  private reads = 0;
  private readonly runs = new Map<string, { result: Promise<unknown>; settledAfterRead: number }>();

  /** Called before each read of the store; the number goes to `run` if the read fails. */
  readStarted(): number {
    return ++this.reads;
  }

  /** The run of `key` that read `readNumber` was concurrent with, or a new one from `start`. */
  run(key: string, readNumber: number, start: () => Promise<unknown>): Promise<unknown> {
    const known = this.runs.get(key);
    if (known !== undefined && readNumber <= known.settledAfterRead) return known.result;
    const entry = { result: start(), settledAfterRead: Infinity };
    this.runs.delete(key); // re-inserted last: the oldest key is the first one
    if (this.runs.size >= MAX_REMEMBERED_KEYS) this.runs.delete(this.runs.keys().next().value!);
    this.runs.set(key, entry);
    const settle = () => {
      entry.settledAfterRead = this.reads;
    };
    entry.result.then(settle, settle);
    return entry.result;
  }

  /** The store answered a read of `key`: its outage run, if any, is over. */
  answered(key: string): void {
    if (this.runs.size > 0) this.runs.delete(key);
  }
}
