import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { CacheInvalidator, CacheModule, Caches, versionedKeyPart, type CacheModuleOptions } from '../../lib/index.js';
import { Book, ENTITIES, Library, Note } from './library.fixture.js';

// Two SQLite files: the default DataSource, which Library reads, and 'archive', a second one
// whose writes must reach the same generations (they are kept by entity name, not by DataSource).

const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-invalidation-data-sources-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const modules: TestingModule[] = [];
afterEach(async () => {
  jest.restoreAllMocks();
  while (modules.length > 0) await modules.pop()!.close();
});

let boots = 0;
const sqlite = (name: string | undefined, file: string) =>
  TypeOrmModule.forRoot({
    ...(name === undefined ? {} : { name }),
    type: 'better-sqlite3',
    database: join(root, `${file}-${boots}.sqlite`),
    entities: ENTITIES,
    synchronize: true,
  });

/** Library on the default DataSource, an 'archive' DataSource, the cache modules and providers given. */
async function boot(cacheModules: DynamicModule[], providers: Provider[] = []) {
  boots++;
  const moduleRef = await Test.createTestingModule({
    imports: [
      sqlite(undefined, 'main'),
      sqlite('archive', 'archive'),
      TypeOrmModule.forFeature(ENTITIES),
      ...cacheModules,
    ],
    providers: [Library, ...providers],
  }).compile();
  modules.push(moduleRef);
  await moduleRef.init();
  const library = moduleRef.get(Library);
  const main = moduleRef.get<DataSource>(getDataSourceToken());
  const archive = moduleRef.get<DataSource>(getDataSourceToken('archive'));
  for (const dataSource of [main, archive]) {
    await dataSource.getRepository(Book).save([
      { title: 'Dune', shelfId: 1 },
      { title: 'Emma', shelfId: 2 },
    ]);
    await dataSource.getRepository(Note).save({ text: 'return by Friday' });
  }
  await library.probe();
  expect(await library.probe()).toEqual([]);
  return { moduleRef, library, main, archive };
}

let stores = 0;
const cacheModule = (options: CacheModuleOptions = { invalidation: { dataSources: ['default', 'archive'] } }) =>
  CacheModule.forRoot({ default: { backend: 'locmem', location: `invalidation-data-sources-${++stores}` } }, options);
const ours = (dataSource: DataSource) =>
  dataSource.subscribers.filter((subscriber) => subscriber.constructor.name === 'InvalidationSubscriber');

describe('invalidation with several DataSources', () => {
  it('a write through the second DataSource invalidates what it changed, and nothing else', async () => {
    const { library, archive } = await boot([cacheModule()]);
    await archive.getRepository(Book).save({ id: 1, title: 'Dune Messiah' });
    expect(await library.probe()).toEqual(['book1', 'books', 'shelf1', 'shelves']);
    await archive.createQueryBuilder().update(Note).set({ text: 'overdue' }).execute();
    expect(await library.probe()).toEqual(['notes']);
  });

  it('a transaction on the second DataSource bumps at its commit, and nothing on its rollback', async () => {
    const { library, archive } = await boot([cacheModule()]);
    await expect(
      archive.transaction(async (manager) => {
        await manager.save(Book, { id: 2, title: 'never' });
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await library.probe()).toEqual([]);
    await archive.transaction(async (manager) => {
      await manager.save(Book, { id: 2, title: 'Persuasion' });
      expect(await library.probe()).toEqual([]);
    });
    expect(await library.probe()).toEqual(['book2', 'books', 'shelf2', 'shelves']);
  });

  it('app.close() detaches from both DataSources: a later write through either bumps nothing', async () => {
    const { moduleRef, main, archive } = await boot([cacheModule()]);
    expect(ours(main)).toHaveLength(1);
    expect(ours(archive)).toHaveLength(1);
    const bump = jest.spyOn(moduleRef.get(CacheInvalidator), 'bump');
    await main.getRepository(Book).save({ id: 1, title: 'seen' });
    expect(bump).toHaveBeenCalledTimes(1);
    await modules.pop()!.close();
    expect(ours(main)).toHaveLength(0);
    expect(ours(archive)).toHaveLength(0);
    // TypeORM's module destroyed the DataSources; opened again, they reach no cache module.
    for (const dataSource of [main, archive]) {
      await dataSource.initialize();
      try {
        await dataSource.getRepository(Book).save({ id: 1, title: 'after close' });
        await dataSource.createQueryBuilder().update(Note).set({ text: 'after close' }).execute();
      } finally {
        await dataSource.destroy();
      }
    }
    expect(bump).toHaveBeenCalledTimes(1);
  });

  it('one DataSource under two connection names is watched once', async () => {
    const { moduleRef, library, main } = await boot(
      [cacheModule({ invalidation: { dataSources: ['default', 'reports', 'archive'] } })],
      [{ provide: getDataSourceToken('reports'), useExisting: getDataSourceToken() }],
    );
    expect(moduleRef.get(getDataSourceToken('reports'), { strict: false })).toBe(main);
    expect(ours(main)).toHaveLength(1);
    const bump = jest.spyOn(moduleRef.get(CacheInvalidator), 'bump');
    await main.getRepository(Book).save({ id: 1, title: 'once' });
    expect(bump).toHaveBeenCalledTimes(1);
    expect(await library.probe()).toEqual(['book1', 'books', 'shelf1', 'shelves']);
  });

  it('the cache module imported in two places is one module: one subscriber per DataSource, one bump per write', async () => {
    const shared = cacheModule();
    @Module({ imports: [shared] })
    class FeatureModule {}
    const { moduleRef, main, archive } = await boot([shared, { module: FeatureModule }]);
    expect(ours(main)).toHaveLength(1);
    expect(ours(archive)).toHaveLength(1);
    const stores = moduleRef.get(Caches).all();
    const deleteMany = jest.spyOn(stores[0]!, 'deleteMany');
    await archive.getRepository(Book).save({ id: 2, title: 'once' });
    expect(deleteMany).toHaveBeenCalledTimes(1);
  });

  it('CacheModule.forRoot() called twice: a warning, and each copy still invalidates its own stores', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => {});
    const first = cacheModule();
    const second = cacheModule();
    const { moduleRef, main } = await boot([first, second]);
    expect(ours(main)).toHaveLength(2);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/DataSource 'default' is watched by two CacheModules/));
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/DataSource 'archive' is watched by two CacheModules/));
    const registries = [...moduleRef.get(ModulesContainer).values()]
      .filter((module) => module.metatype === CacheModule)
      .map((module) => module.providers.get(Caches)!.instance as Caches);
    expect(registries).toHaveLength(2);
    expect(registries[0]!.default).not.toBe(registries[1]!.default);
    const parts = () => Promise.all(registries.map((caches) => versionedKeyPart(caches!.default, [Book], [])));
    const before = await parts();
    await main.getRepository(Book).save({ id: 1, title: 'seen by both' });
    const after = await parts();
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
  });
});
