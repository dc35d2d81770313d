import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { CacheModule, CacheValueError, Caches, type CacheBackend, type CacheEntryOptions } from '../../lib/index.js';
import { freePort } from '../support/addresses.js';

/** A store whose health the test sets, counting the calls that reach it. */
class SwitchableBackend implements CacheBackend {
  static down = true;
  static calls = 0;
  static refuseValues = false;
  private readonly data = new Map<string, unknown>();
  private reach(): void {
    SwitchableBackend.calls++;
    if (SwitchableBackend.down) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }
  get = async (key: string) => (this.reach(), this.data.has(key) ? this.data.get(key) : undefined);
  set = async (key: string, value: unknown) => {
    this.reach();
    if (SwitchableBackend.refuseValues) throw new CacheValueError('value too large for this store');
    this.data.set(key, value);
  };
  add = async () => (this.reach(), false);
  delete = async () => (this.reach(), false);
  touch = async () => (this.reach(), false);
  clear = async () => this.reach();
}

/** A store that takes calls and never answers them, as a server that hangs. */
class HangingBackend implements CacheBackend {
  private readonly never = () => new Promise<never>(() => {});
  get = this.never;
  set = this.never;
  add = this.never;
  delete = this.never;
  touch = this.never;
  clear = this.never;
}

async function boot(entry: CacheEntryOptions): Promise<{ moduleRef: TestingModule; caches: Caches }> {
  const moduleRef = await Test.createTestingModule({
    imports: [CacheModule.forRoot({ default: { backend: 'locmem' }, guarded: entry })],
  }).compile();
  await moduleRef.init();
  return { moduleRef, caches: moduleRef.get(Caches) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the circuit breaker', () => {
  let moduleRef: TestingModule | undefined;
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
    Object.assign(SwitchableBackend, { down: true, calls: 0, refuseValues: false });
  });

  it('opens after the failures in a row, fails fast without calling the store, and closes after a success', async () => {
    let caches: Caches;
    ({ moduleRef, caches } = await boot({
      backend: SwitchableBackend,
      circuitBreaker: { failures: 3, breakSeconds: 0.2 },
    }));
    const cache = caches.get('guarded');
    for (let i = 0; i < 3; i++) await expect(cache.get('k')).rejects.toThrow(/ECONNREFUSED/);
    expect(SwitchableBackend.calls).toBe(3);
    for (let i = 0; i < 10; i++) await expect(cache.get('k')).rejects.toThrow(/unavailable: 3 calls in a row failed/);
    expect(SwitchableBackend.calls).toBe(3);
    SwitchableBackend.down = false;
    await sleep(250);
    await cache.set('k', 'v');
    expect(await cache.get('k')).toBe('v');
    expect(SwitchableBackend.calls).toBe(5);
  });

  it('opens again for another break when the trial after a break fails', async () => {
    let caches: Caches;
    ({ moduleRef, caches } = await boot({
      backend: SwitchableBackend,
      circuitBreaker: { failures: 2, breakSeconds: 0.2 },
    }));
    const cache = caches.get('guarded');
    for (let i = 0; i < 2; i++) await expect(cache.get('k')).rejects.toThrow(/ECONNREFUSED/);
    await sleep(250);
    await expect(cache.get('k')).rejects.toThrow(/ECONNREFUSED/);
    await expect(cache.get('k')).rejects.toThrow(/circuit breaker/);
    expect(SwitchableBackend.calls).toBe(3);
  });

  it("does not count errors about the caller's input", async () => {
    let caches: Caches;
    ({ moduleRef, caches } = await boot({
      backend: SwitchableBackend,
      circuitBreaker: { failures: 2, breakSeconds: 10 },
    }));
    Object.assign(SwitchableBackend, { down: false, refuseValues: true });
    const cache = caches.get('guarded');
    for (let i = 0; i < 5; i++) await expect(cache.set('k', 'v')).rejects.toThrow(/value too large/);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('lets ignoreErrors callers answer at once while open', async () => {
    let caches: Caches;
    ({ moduleRef, caches } = await boot({
      backend: SwitchableBackend,
      ignoreErrors: true,
      circuitBreaker: { failures: 1, breakSeconds: 10 },
    }));
    const cache = caches.get('guarded');
    expect(await cache.getOrSet('k', () => 'computed')).toBe('computed');
    expect(await cache.getOrSet('k', () => 'again')).toBe('again');
    expect(SwitchableBackend.calls).toBe(1);
  });

  it('fails a call the store never answers after commandTimeoutMs, even without the breaker', async () => {
    let caches: Caches;
    ({ moduleRef, caches } = await boot({ backend: HangingBackend, commandTimeoutMs: 100, circuitBreaker: false }));
    const started = performance.now();
    await expect(caches.get('guarded').get('k')).rejects.toThrow(
      /no answer within 100 ms \(commandTimeoutMs of cache 'guarded'\)/,
    );
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('can be turned off', async () => {
    let caches: Caches;
    ({ moduleRef, caches } = await boot({ backend: SwitchableBackend, circuitBreaker: false }));
    for (let i = 0; i < 10; i++) await expect(caches.get('guarded').get('k')).rejects.toThrow(/ECONNREFUSED/);
    expect(SwitchableBackend.calls).toBe(10);
  });

  it.each([
    [{ failures: 0 }, /circuitBreaker\.failures must be a whole number >= 1/],
    [{ breakSeconds: -1 }, /circuitBreaker\.breakSeconds must be a number of seconds > 0/],
    [{ retries: 3 }, /circuitBreaker\.retries is not an option; known: failures, breakSeconds/],
    [true, /circuitBreaker must be false or \{ failures, breakSeconds \}/],
  ])('rejects circuitBreaker: %j', async (circuitBreaker, message) => {
    await expect(boot({ backend: SwitchableBackend, circuitBreaker } as CacheEntryOptions)).rejects.toThrow(message);
  });
});

function startRedis(port: number): Promise<ChildProcess> {
  const redis = spawn(
    process.env.REDIS_SERVER_BIN ?? 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return new Promise((resolve, reject) => {
    redis.once('error', reject);
    redis.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve(redis);
    });
  });
}

describe('the circuit breaker on a real redis that hangs, then comes back', () => {
  let moduleRef: TestingModule | undefined;
  let redis: ChildProcess | undefined;
  afterEach(async () => {
    redis?.kill('SIGCONT');
    await moduleRef?.close();
    redis?.kill('SIGKILL');
  });

  it('stops paying the command timeout on every call, and recovers by itself', async () => {
    const port = await freePort();
    redis = await startRedis(port);
    let caches: Caches;
    ({ moduleRef, caches } = await boot({
      backend: 'redis',
      location: `redis://127.0.0.1:${port}/0`,
      commandTimeoutMs: 150,
      circuitBreaker: { failures: 3, breakSeconds: 1 },
    }));
    const cache = caches.get('guarded');
    await cache.set('k', 'before');
    // A stopped process keeps its socket open and answers nothing: the command timeout is paid.
    redis.kill('SIGSTOP');
    const timed = async () => {
      const started = performance.now();
      await expect(cache.get('k')).rejects.toThrow(/Cache 'guarded'/);
      return performance.now() - started;
    };
    const paying = [await timed(), await timed(), await timed()];
    for (const ms of paying) expect(ms).toBeGreaterThanOrEqual(140);
    const fast = [];
    for (let i = 0; i < 20; i++) fast.push(await timed());
    expect(Math.max(...fast)).toBeLessThan(50);

    redis.kill('SIGCONT');
    const deadline = Date.now() + 10_000;
    let recovered = false;
    while (!recovered && Date.now() < deadline) {
      await sleep(100);
      recovered = await cache.set('k', 'back').then(
        () => true,
        () => false,
      );
    }
    expect(recovered).toBe(true);
    expect(await cache.get('k')).toBe('back');
  });
});
