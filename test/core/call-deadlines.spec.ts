import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { CallDeadlines } from '../../lib/core/call-deadlines.js';

describe('CallDeadlines', () => {
  it('fails a call that never answers between ms and 1.25 ms after it started', async () => {
    const deadlines = new CallDeadlines(100, 'slow');
    const started = performance.now();
    await expect(deadlines.race(new Promise(() => {}))).rejects.toThrow(
      "no answer within 100 ms (commandTimeoutMs of cache 'slow')",
    );
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(99);
    expect(elapsed).toBeLessThan(100 * 1.25 + 300); // + timer lateness on a busy machine
    expect(deadlines.inFlight).toBe(0);
  });

  it('passes answers and errors through, and keeps nothing once they are in', async () => {
    const deadlines = new CallDeadlines(1_000, 'fast');
    const answers = await Promise.allSettled(
      Array.from({ length: 1_000 }, (_, i) =>
        deadlines.race(i % 2 === 0 ? Promise.resolve(i) : Promise.reject(new Error(`refused ${i}`))),
      ),
    );
    expect(answers[0]).toEqual({ status: 'fulfilled', value: 0 });
    expect(answers[1]).toMatchObject({ status: 'rejected', reason: { message: 'refused 1' } });
    expect(deadlines.inFlight).toBe(0);
  });

  it('runs one sweeping timer only while calls are in flight', async () => {
    const deadlines = new CallDeadlines(40, 'idle');
    expect(deadlines.sweeping).toBe(false);
    let answer!: (value: string) => void;
    const call = deadlines.race(new Promise<string>((resolve) => (answer = resolve)));
    const other = deadlines.race(Promise.resolve('at once'));
    expect(deadlines.sweeping).toBe(true);
    answer('in time');
    expect(await call).toBe('in time');
    expect(await other).toBe('at once');
    await sleep(40); // past a sweep (every 10 ms) that finds nothing in flight
    expect(deadlines.sweeping).toBe(false);
  });
});
