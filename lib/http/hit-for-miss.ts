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
 * of no use. One response at a time is looked at (the probe), and a response that is kept clears
 * its variant. Bounded in size and in time.
 */
export class HitForMiss {
  /** Variant → until when (epoch ms) it is remembered, and whether a probe is out; the oldest first. */
  private readonly until = new Map<string, { until: number; probing: boolean }>();

  constructor(
    private readonly seconds = DEFAULT_SECONDS,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {}

  remember(variant: string, now = Date.now()): void {
    this.until.delete(variant); // re-inserted last
    if (this.until.size >= this.maxEntries) this.until.delete(this.until.keys().next().value!);
    this.until.set(variant, { until: now + this.seconds * 1000, probing: false });
  }

  /** Whether the variant's last response could not be kept, not long ago. */
  has(variant: string, now = Date.now()): boolean {
    return this.entry(variant, now) !== undefined;
  }

  /**
   * For a request of a remembered variant: `'probe'` when its response is to be looked at (no
   * other is being looked at: until `probed`), `'skip'` when not; `undefined` if not remembered.
   */
  probe(variant: string, now = Date.now()): 'probe' | 'skip' | undefined {
    const entry = this.entry(variant, now);
    if (entry === undefined) return undefined;
    if (entry.probing) return 'skip';
    entry.probing = true;
    return 'probe';
  }

  /** The probe of the variant is over (its response was looked at, or abandoned). */
  probed(variant: string): void {
    const entry = this.until.get(variant);
    if (entry !== undefined) entry.probing = false;
  }

  private entry(variant: string, now: number): { until: number; probing: boolean } | undefined {
    if (this.until.size === 0) return undefined;
    const entry = this.until.get(variant);
    if (entry === undefined || now < entry.until) return entry;
    this.until.delete(variant);
    return undefined;
  }

  forget(variant: string): void {
    if (this.until.size > 0) this.until.delete(variant);
  }

  get size(): number {
    return this.until.size;
  }
}
