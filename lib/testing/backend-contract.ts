import 'reflect-metadata';
import { afterAll, beforeAll, beforeEach, describe } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheModule } from '../cache.module.js';
import { Caches } from '../caches.js';
import type {
  CacheEntryOptions,
  CachesOptions,
  CommonEntryOptions,
  CullingOptions,
} from '../interfaces/cache-options.interface.js';
import type { CacheBackendContractOptions, ContractContext } from './contract-context.js';
import { describeKeyContract } from './contract-keys.js';
import { describeValueContract } from './contract-values.js';

/**
 * The entry of the backend under test for one store. Aliases built for the same `store` must
 * share their data (as Django's test caches share a location): the contract tells them apart by
 * `keyPrefix`, `version` and `keyFunction` only, which it adds itself. Leave `keyPrefix` unset.
 */
export type ContractEntry = (store: string) => CacheEntryOptions;

export type { CacheBackendContractOptions } from './contract-context.js';

const customKeyFunction = (key: string, prefix: string, version: number) => `CUSTOM-${prefix}-${version}-${key}`;

/**
 * Django's BaseCacheTests (tests/cache/tests.py), ported as behaviour, as Jest tests of a backend
 * through `CacheModule`: a custom backend is done when it passes them against its real store.
 *
 * @example describeCacheBackendContract('my store', (store) => ({ backend: MyBackend, location: store }));
 */
export function describeCacheBackendContract(
  backendName: string,
  makeBackend: ContractEntry,
  target: CacheBackendContractOptions = {},
): void {
  const shortTimeout = target.shortTimeout ?? 0.3;
  const entry = (store: string, overrides: CommonEntryOptions = {}) =>
    ({ ...makeBackend(store), ...overrides }) as CacheEntryOptions;
  // Only culling backends (locmem, filesystem, database, custom ones) take these options.
  const withCulling = (store: string, culling: CullingOptions) => {
    const base = entry(store);
    return { ...base, options: { ...base.options, ...culling } } as CacheEntryOptions;
  };

  describe(`${backendName}: the cache contract (Django's BaseCacheTests)`, () => {
    let moduleRef: TestingModule;
    const context: ContractContext = {
      target,
      shortTimeout,
      afterExpiry: () => sleep(shortTimeout * 1000 * 2 + 100),
      caches: undefined as unknown as Caches,
    };
    const contractCaches = () =>
      context.caches.all().filter((cache) => !(cache.alias in (target.extraCaches?.() ?? {})));

    beforeAll(async () => {
      const config: CachesOptions = {
        default: entry('default'),
        prefix: entry('default', { keyPrefix: 'cacheprefix' }),
        v2: entry('default', { version: 2 }),
        customKey: entry('default', { keyFunction: customKeyFunction }),
        customKey2: entry('default', { keyFunction: customKeyFunction }),
        ...(target.culls && {
          cull: withCulling('cull', { maxEntries: 30 }),
          zeroCull: withCulling('zero-cull', { maxEntries: 30, cullFrequency: 0 }),
        }),
        ...target.extraCaches?.(),
      };
      moduleRef = await Test.createTestingModule({
        imports: [...((target.imports?.() ?? []) as never[]), CacheModule.forRoot(config)],
      }).compile();
      await moduleRef.init(); // runs backends' init() at bootstrap, as an application would
      context.caches = moduleRef.get(Caches);
    });

    beforeEach(async () => {
      await Promise.all(contractCaches().map((cache) => cache.clear()));
    });

    afterAll(async () => {
      await Promise.all(contractCaches().map((cache) => cache.clear()));
      await moduleRef.close();
    });

    describeValueContract(context);
    describeKeyContract(context);
  });
}
