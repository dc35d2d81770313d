import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { register, Registry } from 'prom-client';
import { CacheModule, Caches, type CacheModuleOptions } from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';

const exec = promisify(execFile);
let moduleRef: TestingModule | undefined;
afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

async function boot(options: CacheModuleOptions): Promise<Caches> {
  moduleRef = await Test.createTestingModule({
    imports: [
      CacheModule.forRoot(
        {
          default: { backend: 'locmem', location: 'prometheus' },
          redis: { backend: 'redis', location: redisDb(7), keyPrefix: 'obs-prom' },
        },
        options,
      ),
    ],
  }).compile();
  await moduleRef.init();
  return moduleRef.get(Caches);
}

describe('Prometheus metrics', () => {
  it("show each alias's counters and the latency histogram after real traffic", async () => {
    const registry = new Registry();
    const caches = await boot({ metrics: { prometheus: true, registry } });
    await caches.default.set('a', 1);
    await caches.default.get('a');
    await caches.default.get('a');
    await caches.default.get('missing');
    const redis = caches.get('redis');
    await redis.set('b', 2);
    await redis.get('b');

    const text = await registry.metrics();
    expect(text).toContain('# TYPE nestjs_caches_hits_total counter');
    expect(text).toContain('nestjs_caches_hits_total{alias="default"} 2');
    expect(text).toContain('nestjs_caches_hits_total{alias="redis"} 1');
    expect(text).toContain('nestjs_caches_misses_total{alias="default"} 1');
    expect(text).toContain('nestjs_caches_sets_total{alias="redis"} 1');
    expect(text).toContain('nestjs_caches_errors_total{alias="default"} 0');
    expect(text).toContain('nestjs_caches_stale_serves_total{alias="default"} 0');
    expect(text).toContain('nestjs_caches_lock_waits_total{alias="redis"} 0');
    expect(text).toContain('# TYPE nestjs_caches_command_duration_seconds histogram');
    expect(text).toContain('nestjs_caches_command_duration_seconds_bucket{le="+Inf",alias="redis"} 2');
    expect(text).toContain('nestjs_caches_command_duration_seconds_count{alias="redis"} 2');
    expect(text).toMatch(/nestjs_caches_command_duration_seconds_bucket\{le="0\.001",alias="redis"\} \d/);
    expect(text).toContain('nestjs_caches_command_duration_seconds_count{alias="default"} 0');

    // Read at each scrape: later traffic shows without anything being pushed.
    await caches.default.get('a');
    expect(await registry.metrics()).toContain('nestjs_caches_hits_total{alias="default"} 3');
    await redis.clear();
  });

  it('use the global registry by default, and leave it when the app closes', async () => {
    const caches = await boot({ metrics: { prometheus: true, prefix: 'app_cache_' } });
    await caches.default.get('x');
    expect(await register.metrics()).toContain('app_cache_misses_total{alias="default"} 1');
    await moduleRef!.close();
    moduleRef = undefined;
    expect(await register.metrics()).not.toContain('app_cache_');
    // A second app registers again without "already registered".
    await boot({ metrics: { prometheus: true, prefix: 'app_cache_' } });
    expect(await register.metrics()).toContain('app_cache_misses_total{alias="default"} 0');
  });

  it('are not registered unless asked for', async () => {
    const registry = new Registry();
    await boot({});
    await moduleRef!.close();
    await boot({ metrics: { prometheus: false, registry } });
    expect(await registry.metrics()).toBe('\n');
  });

  it('refuse a wrong option at boot', async () => {
    // locmem only: a boot that fails leaves no module to close the connections of.
    const compiling = Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: 'locmem://' }, { metrics: { prometheus: 'yes' as never } })],
    }).compile();
    await expect(compiling).rejects.toThrow('metrics.prometheus must be true or false');
  });

  it('fail boot with a CacheConfigError naming the fix when prom-client is not installed', async () => {
    const { stdout } = await exec(
      process.execPath,
      [
        '--import',
        './test/support/register-ts.mjs',
        '--import',
        './test/observability/hide-prom-client.mjs',
        'test/observability/without-prom-client.worker.ts',
      ],
      { cwd: process.cwd() },
    );
    expect(stdout).toContain('without metrics: booted');
    expect(stdout).toMatch(
      /with metrics: CacheConfigError: CacheModule's metrics\.prometheus is on, which needs prom-client: npm install prom-client$/m,
    );
  }, 30_000);
});
