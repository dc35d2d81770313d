import type { Logger } from '@nestjs/common';

const DEFAULT_INTERVAL_MS = 10_000;

/**
 * A warning that a failing dependency would repeat on every call: a store that is down fails
 * every command, an upstream that is down fails every refresh. Logged at most once per interval,
 * with how many were held back since the last one.
 */
export class RateLimitedLog {
  private lastLoggedAt = -Infinity;
  private heldBack = 0;

  constructor(
    private readonly logger: Pick<Logger, 'warn'>,
    /** What the held-back messages are, for the count: `failures`, `failed refreshes`. */
    private readonly plural: string,
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
  ) {}

  warn(message: string): void {
    const now = Date.now();
    if (now - this.lastLoggedAt < this.intervalMs) {
      this.heldBack++;
      return;
    }
    const heldBack = this.heldBack > 0 ? ` (${this.heldBack} more ${this.plural} since the last report)` : '';
    this.logger.warn(`${message}${heldBack}`);
    this.lastLoggedAt = now;
    this.heldBack = 0;
  }
}
