import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { CallDeadlines } from '../../lib/core/call-deadlines.js';

// Jest runs without --expose-gc; the flag set now gives a fresh context its `gc`.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Keeps the event loop busy for `ms` of synchronous work in every turn until stopped. */
function loadEventLoop(ms: number): () => void {
  let loaded = true;
  const turn = () => {
    const until = performance.now() + ms;
    while (performance.now() < until);
    if (loaded) setImmediate(turn);
  };
  setImmediate(turn);
  return () => (loaded = false);
}

/** How long after `race` was called its call failed, by the deadline. */
async function timeToFail(deadlines: CallDeadlines): Promise<number> {
  const started = performance.now();
  await expect(deadlines.race(new Promise(() => {}))).rejects.toThrow('no answer within');
  return performance.now() - started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

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
    await sleep(40); // past a sweep (every 5 ms) that finds nothing in flight
    expect(deadlines.sweeping).toBe(false);
  });

  it('hands the answer, the failure and the deadline to the callbacks, as then does', async () => {
    const deadlines = new CallDeadlines(40, 'mapped');
    const seen = (error: unknown) => `failed: ${(error as Error).message}`;
    expect(await deadlines.race(Promise.resolve(2), (value) => `got ${value * 10}`, seen)).toBe('got 20');
    expect(await deadlines.race(Promise.reject(new Error('refused')), String, seen)).toBe('failed: refused');
    expect(await deadlines.race(new Promise<number>(() => {}), String, seen)).toBe(
      "failed: no answer within 40 ms (commandTimeoutMs of cache 'mapped')",
    );
    await expect(
      deadlines.race(Promise.resolve(1), () => {
        throw new Error('callback threw');
      }),
    ).rejects.toThrow('callback threw');
  });

  it('fails only the calls that hang, while the others around them answer', async () => {
    const deadlines = new CallDeadlines(40, 'mixed');
    const hung = expect(deadlines.race(new Promise(() => {}))).rejects.toThrow('no answer within 40 ms');
    const answered: Array<Promise<unknown>> = [];
    for (let i = 0; i < 5; i++) {
      answered.push(deadlines.race(new Promise((resolve) => setImmediate(resolve, i))));
      await sleep(10);
    }
    await hung;
    expect(await Promise.all(answered)).toEqual([0, 1, 2, 3, 4]);
    expect(deadlines.inFlight).toBe(0);
  });

  it('fails a call by its age, so a loaded event loop delays the failure by its lag only', async () => {
    const ms = 400;
    const turnMs = 80;
    const stopLoad = loadEventLoop(turnMs);
    const elapsed: Array<Promise<number>> = [];
    try {
      for (let i = 0; i < 7; i++) {
        elapsed.push(timeToFail(new CallDeadlines(ms, 'loaded')));
        await sleep(7);
      }
      const times = await Promise.all(elapsed);
      for (const time of times) expect(time).toBeGreaterThanOrEqual(ms);
      // A turn late at most to stamp the call's slot and a turn to fail it (about 1.3 ms here);
      // counting 4-5 sweeps that each wait for the turn after they are due took over 2 ms.
      expect(median(times)).toBeLessThanOrEqual(ms * 1.25 + 2 * turnMs);
    } finally {
      stopLoad();
    }
  });

  it('never fails early, however short or long the deadline', async () => {
    for (const ms of [1, 3]) expect(await timeToFail(new CallDeadlines(ms, 'short'))).toBeGreaterThanOrEqual(ms);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      // Past the longest timer Node runs (2^31 - 1 ms) even at an eighth of it.
      const deadlines = new CallDeadlines(1e10, 'patient');
      let settled = false;
      void deadlines.race(new Promise(() => {})).finally(() => (settled = true));
      await sleep(50);
      expect(settled).toBe(false);
      expect(deadlines.inFlight).toBe(1);
      expect(warnings.map((warning) => warning.name)).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('holds nothing of an answered call, while a call in its slot hangs', async () => {
    const deadlines = new CallDeadlines(60_000, 'held');
    void deadlines.race(new Promise(() => {}));
    let answer: WeakRef<object> | undefined;
    // Raced in the same turn as the hung call: the same slot.
    await (async () => {
      const value = { rows: Array.from({ length: 1_000 }, (_, i) => i) };
      answer = new WeakRef(value);
      expect(await deadlines.race(Promise.resolve(value))).toBe(value);
    })();
    await sleep(0); // a WeakRef keeps its target until the turn that made it ends
    collectGarbage();
    expect(answer!.deref()).toBeUndefined();
    expect(deadlines.inFlight).toBe(1);
  });
});
