import { describe, expect, it } from '@jest/globals';
import { HashRing } from '../../lib/backends/hash-ring.js';

describe('consistent hashing for memcached servers', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `:1:recipe:${i}`);
  const owners = (ring: HashRing, servers: string[]) => keys.map((key) => servers[ring.serverOf(key)]);

  it('spreads keys over every server, roughly evenly', () => {
    const servers = ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211'];
    const counts = new Map<string, number>();
    for (const owner of owners(new HashRing(servers), servers)) counts.set(owner!, (counts.get(owner!) ?? 0) + 1);
    for (const server of servers) expect(counts.get(server)).toBeGreaterThan(keys.length / 3 / 1.5);
  });

  it('moves only about 1/n of the keys when a server is added (modulo hashing moves most)', () => {
    const three = ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211'];
    const four = [...three, '10.0.0.4:11211'];
    const before = owners(new HashRing(three), three);
    const after = owners(new HashRing(four), four);
    const moved = before.filter((owner, i) => owner !== after[i]).length / keys.length;
    expect(moved).toBeLessThan(0.35); // ideal: 0.25; `hash % n` would move 0.75
    expect(after.filter((owner, i) => owner !== before[i]).every((owner) => owner === '10.0.0.4:11211')).toBe(true);
  });
});
