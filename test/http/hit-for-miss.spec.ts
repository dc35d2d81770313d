import { describe, expect, it } from '@jest/globals';
import { HitForMiss } from '../../lib/http/hit-for-miss.js';

describe('HitForMiss', () => {
  it('remembers a variant for its time, then forgets it', () => {
    const remembered = new HitForMiss(10);
    remembered.remember('a', 1_000);
    expect(remembered.has('a', 10_999)).toBe(true);
    expect(remembered.has('a', 11_000)).toBe(false);
    expect(remembered.size).toBe(0);
  });

  it('forgets a variant whose response was kept', () => {
    const remembered = new HitForMiss();
    remembered.remember('a');
    remembered.forget('a');
    expect(remembered.has('a')).toBe(false);
  });

  it('holds at most its bound, forgetting the oldest first', () => {
    const remembered = new HitForMiss(60, 3);
    for (const variant of ['a', 'b', 'c', 'd', 'e']) remembered.remember(variant);
    expect(remembered.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((variant) => remembered.has(variant))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it('counts a variant remembered again as the newest', () => {
    const remembered = new HitForMiss(60, 2);
    remembered.remember('a');
    remembered.remember('b');
    remembered.remember('a');
    remembered.remember('c');
    expect([remembered.has('a'), remembered.has('b'), remembered.has('c')]).toEqual([true, false, true]);
  });

  it('lets one probe out at a time, and a new one once it is over or the variant is remembered again', () => {
    const remembered = new HitForMiss();
    expect(remembered.probe('a')).toBeUndefined();
    remembered.remember('a');
    expect([remembered.probe('a'), remembered.probe('a')]).toEqual(['probe', 'skip']);
    remembered.probed('a');
    expect(remembered.probe('a')).toBe('probe');
    remembered.remember('a');
    expect(remembered.probe('a')).toBe('probe');
  });
});
