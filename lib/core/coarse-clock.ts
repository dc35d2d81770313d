// Reading the system clock costs about as much as the rest of a locmem hit, and a hit needs
// it to check expiry. So the time is read once and reused until the event loop next runs
// timers (at least 1 ms later), as lru-cache's `ttlResolution` does: an entry may outlive its
// expiry by the length of one synchronous stretch of work, never by a timer tick.
let cachedNow: number | undefined;

function forget(): void {
  cachedNow = undefined;
}

/** `Date.now()`, at most one event-loop turn old. */
export function coarseNow(): number {
  if (cachedNow === undefined) {
    cachedNow = Date.now();
    setTimeout(forget, 1).unref();
  }
  return cachedNow;
}
