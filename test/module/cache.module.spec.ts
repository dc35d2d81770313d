import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  Cache,
  CacheConfigError,
  CacheModule,
  Caches,
  getCacheToken,
  InjectCache,
  type CacheBackend,
  type ResolvedCacheEntry,
  MISS,
} from '../../lib/index.js';

@Injectable()
class RecipesService {
  constructor(
    readonly cache: Cache,
    @InjectCache('files') readonly files: Cache,
    readonly caches: Caches,
  ) {}
}

@Injectable()
class NeedsUnknownAlias {
  constructor(@InjectCache('nonexistent') readonly cache: Cache) {}
}

/** A custom backend: counts calls to show the module builds and closes it. */
class RecordingBackend implements CacheBackend {
  static closed = 0;
  readonly data = new Map<string, unknown>();
  constructor(readonly entry: ResolvedCacheEntry) {}
  get(key: string) {
    return this.data.has(key) ? this.data.get(key) : MISS;
  }
  set(key: string, value: unknown) {
    this.data.set(key, value);
  }
  add(key: string, value: unknown) {
    if (this.data.has(key)) return false;
    this.data.set(key, value);
    return true;
  }
  delete(key: string) {
    return this.data.delete(key);
  }
  touch(key: string) {
    return this.data.has(key);
  }
  clear() {
    this.data.clear();
  }
  close() {
    RecordingBackend.closed++;
  }
}

describe('CacheModule', () => {
  let moduleRef: TestingModule | undefined;
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  const compile = async (imports: unknown[], providers: unknown[] = []) => {
    moduleRef = await Test.createTestingModule({ imports: imports as never, providers: providers as never }).compile();
    return moduleRef;
  };

  it('injects the default alias by the Cache class, others by @InjectCache, all through Caches', async () => {
    await compile(
      [CacheModule.forRoot({ default: { backend: 'locmem', location: 'module-a' }, files: { backend: 'dummy' } })],
      [RecipesService],
    );
    const service = moduleRef!.get(RecipesService);
    expect(service.cache.alias).toBe('default');
    expect(service.files.alias).toBe('files');
    expect(service.caches.default).toBe(service.cache);
    expect(service.caches.get('files')).toBe(service.files);
    expect(service.caches.all().map((c) => c.alias)).toEqual(['default', 'files']);
    expect(moduleRef!.get(getCacheToken('files'))).toBe(service.files);
    expect(getCacheToken()).toBe(Cache);
  });

  it('is global: a feature module injects caches without importing CacheModule', async () => {
    @Module({ providers: [RecipesService], exports: [RecipesService] })
    class RecipesModule {}
    await compile([CacheModule.forRoot({ default: 'locmem://module-b', files: 'dummy://' }), RecipesModule]);
    expect(moduleRef!.get(RecipesService).files.alias).toBe('files');
  });

  it('fails at boot on an alias that is not configured, listing the configured ones', async () => {
    const boot = compile([CacheModule.forRoot({ default: { backend: 'locmem' } })], [NeedsUnknownAlias]);
    await expect(boot).rejects.toThrow(CacheConfigError);
    await expect(
      compile([CacheModule.forRoot({ default: { backend: 'locmem' } })], [NeedsUnknownAlias]),
    ).rejects.toThrow("No cache alias 'nonexistent'; configured: default");
  });

  it('keeps the aliases of two apps in one process apart: an alias only the first injects is not in the second', async () => {
    @Injectable()
    class UsesReports {
      constructor(@InjectCache('reports') readonly reports: Cache) {}
    }
    const first = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: 'locmem://two-apps-a', reports: 'dummy://' })],
      providers: [UsesReports],
    }).compile();
    try {
      expect(first.get(UsesReports).reports.alias).toBe('reports');
      await compile([CacheModule.forRoot({ default: 'locmem://two-apps-b' })]);
      expect(moduleRef!.get(Caches).has('reports')).toBe(false);
      expect(() => moduleRef!.get(getCacheToken('reports'), { strict: false })).toThrow(/reports/);
    } finally {
      await first.close();
    }
  });

  it.each([
    [{ files: { backend: 'locmem' } }, /caches\.default is required/],
    [{ default: { backend: 'mongo' } }, /caches\.default\.backend: unknown backend 'mongo'/],
    [{ default: { backend: 'locmem', timout: 5 } }, /caches\.default\.timout is not a setting/],
    [{ default: { backend: 'locmem', timeout: '5' } }, /caches\.default\.timeout must be a number of seconds or null/],
    [{ default: { backend: 'locmem', version: 1.5 } }, /caches\.default\.version must be an integer/],
    [{ default: { backend: 'filesystem' } }, /caches\.default\.location: the filesystem backend needs a directory/],
    [
      { default: { backend: 'locmem', options: { maxEntries: 0 } } },
      /caches\.default\.options\.maxEntries must be an integer of at least 1/,
    ],
    [
      { default: { backend: 'locmem', options: { cullFrequency: -1 } } },
      /options\.cullFrequency must be an integer of at least 0/,
    ],
    [
      { default: { backend: 'locmem', options: { max_entries: 10 } } },
      /options\.max_entries is not an option of the locmem backend/,
    ],
    [{ default: { backend: 'locmem', commandTimeoutMs: 0 } }, /commandTimeoutMs must be a positive number/],
    [{ default: 'redis2://h' }, /unknown cache URL scheme 'redis2:'/],
    [{ default: 'locmem://x?timeout=soon' }, /caches\.default\.timeout: 'soon' in the cache URL is not a number/],
    [{ default: 'locmem://x?tiemout=5' }, /caches\.default\.tiemout is not a cache URL parameter; known: timeout, /],
  ])('rejects wrong configuration at boot, naming alias and field: %j', async (caches, message) => {
    await expect(compile([CacheModule.forRoot(caches as never)])).rejects.toThrow(message);
    await expect(compile([CacheModule.forRoot(caches as never)])).rejects.toBeInstanceOf(CacheConfigError);
  });

  it.each([
    [{ metrics: { prometeus: true } }, /metrics\.prometeus is not an option; known: prometheus, registry, prefix\./],
    [{ site: { ttl: 5 } }, /site\.ttl is not an option; known: cache, timeout, keyPrefix/],
    [{ invalidation: { sources: [] } }, /invalidation\.sources is not an option; known: dataSources, /],
  ])('names an unknown module option the same way everywhere: %j', async (options, message) => {
    const boot = compile([CacheModule.forRoot({ default: 'locmem://unknown-fields' }, options as never)]);
    await expect(boot).rejects.toThrow(message);
  });

  it('reads cache URLs with settings in the query', async () => {
    await compile([
      CacheModule.forRoot({
        default: 'locmem://url-store?timeout=60&keyPrefix=site&version=3&maxEntries=10',
        forever: 'locmem://url-store?timeout=none',
        files: 'file:///tmp/nestjs-caches-url-test',
      }),
    ]);
    const caches = moduleRef!.get(Caches);
    expect(caches.default.defaultTimeout).toBe(60);
    expect(caches.default.makeKey('k')).toBe('site:3:k');
    expect(caches.get('forever').defaultTimeout).toBeNull();
    await caches.default.set('shared', 1);
    expect(await caches.get('forever').get('shared', undefined, 3)).toBeUndefined(); // prefix differs
    await caches.get('files').set('k', 'on disk');
    expect(await caches.get('files').get('k')).toBe('on disk');
    await caches.get('files').clear();
  });

  it('forRootAsync builds the stores from a factory with injected dependencies', async () => {
    @Injectable()
    class Settings {
      readonly cacheUrl = 'locmem://async-store?timeout=42';
    }
    @Module({ providers: [Settings], exports: [Settings] })
    class SettingsModule {}
    await compile(
      [
        CacheModule.forRootAsync({
          imports: [SettingsModule],
          inject: [Settings],
          useFactory: async (settings: Settings) => ({
            caches: { default: settings.cacheUrl, files: 'dummy://', extra: 'dummy://' },
          }),
          aliases: ['extra'],
        }),
      ],
      [RecipesService],
    );
    const service = moduleRef!.get(RecipesService);
    expect(service.cache.defaultTimeout).toBe(42);
    expect(service.files.alias).toBe('files'); // named by @InjectCache, so injectable without `aliases`
    expect(moduleRef!.get(getCacheToken('extra')).alias).toBe('extra');
  });

  it('forRootAsync rejects wrong configuration at boot', async () => {
    await expect(
      compile([
        CacheModule.forRootAsync({ useFactory: () => ({ caches: { default: { backend: 'nope' } } as never }) }),
      ]),
    ).rejects.toThrow(/caches\.default\.backend: unknown backend 'nope'/);
  });

  it('accepts a custom backend class and closes its stores when the app shuts down', async () => {
    RecordingBackend.closed = 0;
    await compile([CacheModule.forRoot({ default: { backend: RecordingBackend, options: { anything: true } } })]);
    const cache = moduleRef!.get(Cache);
    await cache.set('k', 'v');
    expect(await cache.get('k')).toBe('v');
    expect(await cache.incr('k').catch((e: Error) => e.name)).toBe('CacheValueError');
    await moduleRef!.close();
    moduleRef = undefined;
    expect(RecordingBackend.closed).toBe(1);
  });
});
