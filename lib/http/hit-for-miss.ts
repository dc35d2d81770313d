// Varnish's default for the objects that say "pass" (its default TTL): long enough that a burst
// of uncacheable traffic never queues, short enough that a route that turns cacheable soon
// coalesces again even if no response of it said so.
const DEFAULT_SECONDS = 120;
// Variants remembered at once; past it the oldest goes (and its traffic waits once more).
const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * Page variants whose last response could not be kept (private, `no-store`, a cookie set,
 * `Vary: *`, a status other than 200...): Varnish's hit-for-miss. Their next requests go to the
 * handler at once, side by side, instead of waiting for one another's response only to find it
 * of no use. A response that is kept clears its variant. Bounded in size and in time.
 */
export class HitForMiss {
  /** Variant → epoch ms until which it is remembered; in insertion order, the oldest first. */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly seconds = DEFAULT_SECONDS,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {}

  remember(variant: string, now = Date.now()): void {
    this.until.delete(variant); // re-inserted last
    if (this.until.size >= this.maxEntries) this.until.delete(this.until.keys().next().value!);
    this.until.set(variant, now + this.seconds * 1000);
  }

  /** Whether the variant's last response could not be kept, not long ago. */
  has(variant: string, now = Date.now()): boolean {
    if (this.until.size === 0) return false;
    const until = this.until.get(variant);
    if (until === undefined) return false;
    if (now < until) return true;
    this.until.delete(variant);
    return false;
  }

  forget(variant: string): void {
    if (this.until.size > 0) this.until.delete(variant);
  }

  get size(): number {
    return this.until.size;
  }
}
