import type { Envelope } from './envelope.js';

/**
 * XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede Prevention",
 * VLDB 2015): recompute early when `now - computeMs * beta * ln(random) >= expiry`. The expected
 * head start grows with the computation's cost, so one caller refreshes a hot key shortly before
 * it expires and the others never see it missing.
 */
export function shouldRefreshEarly(envelope: Envelope, beta: number, now: number, random: () => number): boolean {
  if (envelope.freshUntil === null) return false;
  // ln(0) would be -Infinity: the smallest positive number keeps the draw finite.
  const draw = Math.max(random(), Number.MIN_VALUE);
  return now - envelope.computeMs * beta * Math.log(draw) >= envelope.freshUntil;
}
