import { createHash } from 'node:crypto';

// Points per server on the ring: enough that keys spread evenly (ketama uses 160).
const POINTS_PER_SERVER = 160;

function point(text: string): number {
  return createHash('md5').update(text).digest().readUInt32BE(0);
}

/**
 * Consistent hashing: servers own arcs of a ring of 32-bit points, and a key goes to the
 * first server point at or after its own. Adding or removing one of n servers moves only
 * about 1/n of the keys, where `hash % n` moves most of them.
 */
export class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: Uint16Array;

  constructor(servers: readonly string[]) {
    const placed = servers
      .flatMap((server, index) =>
        Array.from({ length: POINTS_PER_SERVER }, (_, i) => ({ at: point(`${server}-${i}`), index })),
      )
      .sort((a, b) => a.at - b.at);
    this.points = Uint32Array.from(placed, (p) => p.at);
    this.owners = Uint16Array.from(placed, (p) => p.index);
  }

  /** The index (in the list given) of the server that owns a key. */
  serverOf(key: string): number {
    const at = point(key);
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.points[middle]! < at) low = middle + 1;
      else high = middle;
    }
    return this.owners[low === this.points.length ? 0 : low]!;
  }
}
