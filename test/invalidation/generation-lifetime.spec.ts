import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cacheable, CacheInvalidator, CacheModule, Caches, versionedKeyPart, type Cache } from '../../lib/index.js';
import { entityGenerationKey } from '../../lib/invalidation/dependencies.js';
import { DEFAULT_GENERATION_TIMEOUT_SECONDS, generationTimeoutOf } from '../../lib/invalidation/generations.js';
import { Shelf } from './library.fixture.js';

// Small numbers instead of days: a floor of 0.2 s stands for the default day, a 0.1 s entry for a
// 60 s page, a 3 s entry for a 7-day one. The margins are seconds wide, for a loaded machine.

/** Two reads of the same entity, one short-lived and one long-lived, counting their runs. */
@Injectable()
class Catalogue {
  readonly runs = { short: 0, long: 0 };

  @Cacheable({ key: 'short', timeout: 0.1, dependsOn: [Shelf] })
  async short(): Promise<number> {
    return ++this.runs.short;
  }

  @Cacheable({ key: 'long', timeout: 3, dependsOn: [Shelf] })
  async long(): Promise<number> {
    return ++this.runs.long;
  }
}

const modules: TestingModule[] = [];
afterEach(async () => {
  jest.restoreAllMocks();
  while (modules.length > 0) await modules.pop()!.close();
});

let stores = 0;
async function boot(
  generationTimeout?: number | null,
): Promise<{ catalogue: Catalogue; cache: Cache; module: TestingModule }> {
  const module = await Test.createTestingModule({
    imports: [
      CacheModule.forRoot(
        { default: { backend: 'locmem', location: `generation-lifetime-${++stores}` } },
        { invalidation: generationTimeout === undefined ? {} : { generationTimeout } },
      ),
    ],
    providers: [Catalogue],
  }).compile();
  modules.push(module);
  await module.init();
  return { catalogue: module.get(Catalogue), cache: module.get(Caches).default, module };
}

const SHELF = entityGenerationKey('Shelf');

describe('how long generations live', () => {
  it('a generation a short entry created outlives a longer entry that reads it later', async () => {
    const { catalogue, cache } = await boot(0.2);
    await catalogue.short(); // creates the generation, for max(0.2 s floor, 2 x 0.1 s)
    expect(generationTimeoutOf(cache)).toBe(0.2);
    await catalogue.long(); // raises the lifetime to 2 x 3 s, and touches the generation it read
    expect(generationTimeoutOf(cache)).toBe(6);
    await sleep(800); // past the generation's first lifetime, well within the long entry's
    expect(await cache.has(SHELF)).toBe(true);
    expect(await catalogue.long()).toBe(1); // still a hit
    expect(catalogue.runs.long).toBe(1);
  });

  it('a shorter entry never shortens it, hits read it once and touch nothing, and a write still invalidates', async () => {
    const { catalogue, cache, module } = await boot(0.2);
    await catalogue.long();
    await catalogue.short();
    const calls = ['get', 'getMany', 'add', 'touch'].map((name) => jest.spyOn(cache, name as 'get'));
    for (let i = 0; i < 3; i++) {
      await catalogue.long();
      await catalogue.short();
    }
    const [get, getMany, add, touch] = calls;
    expect(touch).not.toHaveBeenCalled();
    expect(add).not.toHaveBeenCalled();
    expect(getMany).not.toHaveBeenCalled();
    // One read of the generation per call, whatever the entry's timeout: a short one lowers nothing.
    expect(get!.mock.calls.filter(([key]) => key === SHELF)).toHaveLength(6);
    expect(generationTimeoutOf(cache)).toBe(6);
    await sleep(800);
    expect(await catalogue.long()).toBe(1);
    await module.get(CacheInvalidator).invalidate(Shelf);
    expect(await catalogue.long()).toBe(2);
  });

  it('the floor is invalidation.generationTimeout: generations only short entries read go after it', async () => {
    const { catalogue, cache } = await boot(0.2);
    const add = jest.spyOn(cache, 'add');
    await catalogue.short();
    expect(add).toHaveBeenCalledWith(SHELF, expect.any(String), 0.2);
    await sleep(600);
    expect(await cache.has(SHELF)).toBe(false);
    const byDefault = await boot();
    expect(generationTimeoutOf(byDefault.cache)).toBe(DEFAULT_GENERATION_TIMEOUT_SECONDS);
  });

  it('generationTimeout: null keeps generations for as long as the store does, and an entry that never expires does too', async () => {
    const never = await boot(null);
    const add = jest.spyOn(never.cache, 'add');
    await never.catalogue.long();
    expect(add).toHaveBeenCalledWith(SHELF, expect.any(String), null);

    const { catalogue, cache } = await boot(0.2);
    await catalogue.short();
    await versionedKeyPart(cache, [Shelf], [], null);
    expect(generationTimeoutOf(cache)).toBeNull();
    await sleep(600);
    expect(await cache.has(SHELF)).toBe(true);
  });
});
