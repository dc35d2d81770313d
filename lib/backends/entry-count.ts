// All writers together add about this fraction of `maxEntries` between two counts of one writer:
// the most a shared store overshoots `maxEntries` by, twice that when write rates change.
const GROWTH_BETWEEN_COUNTS = 0.05;
// A writer's share of the growth before it has seen any: low, so a newcomer counts soon.
const FIRST_SHARE = 1 / 8;
const LEAST_SHARE = 1 / 64;

/**
 * How many entries a store that other processes may share holds (the filesystem's files, the
 * database's rows), known without counting them before every write as Django does.
 *
 * Counted once, then kept up to date by this process's own additions and removals, and counted
 * again:
 * - when the estimate reaches `maxEntries`, so that the cull decision is made on the true number
 *   (in a process of its own, the store culls exactly when Django's would);
 * - after a few additions of its own, so that other processes' writes are seen. "A few" follows
 *   this process's share of the store's recent growth: a writer of a quarter of the new entries
 *   counts four times as often, so that all writers together add about 5 % of `maxEntries` between
 *   any writer's counts, and a writer sees the store full before it holds 10 % more.
 *
 * A count costs O(entries) once every O(maxEntries) additions: O(1) per write.
 */
export class EntryCount {
  private estimate: number | undefined;
  private addedSinceCount = 0;
  private share = FIRST_SHARE;
  private additionsBetweenCounts: number;
  private counting: Promise<void> | undefined;

  constructor(private readonly maxEntries: number) {
    this.additionsBetweenCounts = this.intervalFor(this.share);
  }

  /** Whether the store must be counted before the next write. */
  private get due(): boolean {
    return (
      this.estimate === undefined ||
      this.estimate >= this.maxEntries ||
      this.addedSinceCount >= this.additionsBetweenCounts
    );
  }

  /**
   * Before a write: when due, runs `countAndCull` (which reports its count through `counted`);
   * concurrent writes of this process share one run.
   */
  async beforeWrite(countAndCull: () => Promise<void>): Promise<void> {
    if (!this.due) return;
    this.counting ??= countAndCull().finally(() => (this.counting = undefined));
    await this.counting;
  }

  /** The number of entries just counted. */
  counted(total: number): void {
    if (this.estimate !== undefined) {
      // Growth this process did not make is other processes'; a drop (another's cull) says nothing of rates.
      const othersGrowth = total - this.estimate;
      const growth = this.addedSinceCount + othersGrowth;
      if (othersGrowth >= 0 && growth > 0) this.share = Math.max(LEAST_SHARE, this.addedSinceCount / growth);
    }
    this.estimate = total;
    this.addedSinceCount = 0;
    this.additionsBetweenCounts = this.intervalFor(this.share);
  }

  /** This process created entries. */
  added(count = 1): void {
    if (this.estimate === undefined) return;
    this.estimate += count;
    this.addedSinceCount += count;
  }

  /** This process removed entries. */
  removed(count = 1): void {
    if (this.estimate !== undefined) this.estimate = Math.max(0, this.estimate - count);
  }

  private intervalFor(share: number): number {
    return Math.max(1, Math.floor(this.maxEntries * GROWTH_BETWEEN_COUNTS * share));
  }
}
