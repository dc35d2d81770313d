import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { CacheInvalidator, CacheModule, Caches, type CacheEntryOptions } from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';
import { Book, ENTITIES, Library, Note, Shelf } from './library.fixture.js';

// Generations live in the store, so instances that share a store share them: a write seen by one
// instance's subscriber makes every instance's dependent entries unreachable. Each "instance" here
// is a Nest app of its own (its own DataSource, subscriber, Library and store connections) on one
// SQLite file, as processes behind a load balancer share one database.

const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-invalidation-shared-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const apps: TestingModule[] = [];
afterEach(async () => {
  while (apps.length > 0) await apps.pop()!.close();
});

interface Instance {
  app: TestingModule;
  library: Library;
  dataSource: DataSource;
}

async function instance(database: string, cache: CacheEntryOptions, createSchema: boolean): Promise<Instance> {
  const app = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        type: 'better-sqlite3',
        database,
        entities: ENTITIES,
        synchronize: createSchema,
        dropSchema: createSchema,
      }),
      TypeOrmModule.forFeature(ENTITIES),
      CacheModule.forRoot({ default: cache }),
    ],
    providers: [Library],
  }).compile();
  apps.push(app);
  await app.init();
  return { app, library: app.get(Library), dataSource: app.get<DataSource>(getDataSourceToken()) };
}

async function seed({ library }: Instance): Promise<void> {
  await library.shelves.save([{ name: 'fiction' }, { name: 'cooking' }]);
  await library.books.save([
    { title: 'Dune', shelfId: 1 },
    { title: 'The Silver Spoon', shelfId: 2 },
  ]);
  await library.notes.save({ text: 'return by Friday' });
}

describe('two app instances sharing one redis alias', () => {
  const cache = (): CacheEntryOptions => ({ backend: 'redis', location: redisDb(14) });

  it("a write through one instance makes the other's dependent reads compute again, and only those", async () => {
    const database = join(root, 'two-instances.sqlite');
    const a = await instance(database, cache(), true);
    const b = await instance(database, cache(), false);
    await a.app.get(Caches).default.clear(); // redis db 14 belongs to this file
    await seed(a);
    await b.library.probe();
    expect(await b.library.probe()).toEqual([]);
    // B's entries are in redis: A reads them without running anything.
    expect(await a.library.probe()).toEqual([]);

    await a.library.books.save({ id: 1, title: 'Dune Messiah' });
    // B's DataSource saw no event: only the generations in redis tell it.
    expect(await b.library.probe()).toEqual(['book1', 'books', 'shelf1', 'shelves']);
    expect((await b.library.book(1))!.title).toBe('Dune Messiah');

    await b.dataSource.createQueryBuilder().update(Note).set({ text: 'overdue' }).execute();
    expect(await a.library.probe()).toEqual(['notes']);
    expect((await a.library.listNotes())[0]!.text).toBe('overdue');

    // A transaction in A: B sees nothing before the commit, and the new rows right after it.
    await a.dataSource.transaction(async (manager) => {
      await manager.save(Book, { id: 2, title: 'Il cucchiaio d’argento' });
      expect(await b.library.probe()).toEqual([]);
    });
    expect(await b.library.probe()).toEqual(['book2', 'books', 'shelf2', 'shelves']);
    expect((await b.library.book(2))!.title).toBe('Il cucchiaio d’argento');
  });
});

describe('generations in memcached', () => {
  it('dependent reads are cached, and a write invalidates what it changed', async () => {
    const servers = process.env.MEMCACHED_SERVERS;
    if (!servers)
      throw new Error('MEMCACHED_SERVERS is not set: run the tests with `npm test`, which starts memcached.');
    // clear() would flush both servers under other test files: a prefix of this run's own instead.
    const keyPrefix = `invalidation-${process.pid}-${Date.now()}`;
    const one = await instance(
      join(root, 'memcached.sqlite'),
      { backend: 'memcached', location: servers.split(','), keyPrefix },
      true,
    );
    await seed(one);
    const { library } = one;
    await library.probe();
    expect(await library.probe()).toEqual([]);
    await library.books.save({ id: 1, title: 'Dune Messiah' });
    expect(await library.probe()).toEqual(['book1', 'books', 'shelf1', 'shelves']);
    expect((await library.book(1))!.title).toBe('Dune Messiah');
    await one.dataSource.createQueryBuilder().update(Book).set({ title: 'Dune!' }).where('id = 2').execute();
    expect(await library.probe()).toEqual(['book1', 'book2', 'books', 'shelf1', 'shelf2', 'shelves']);
    await one.app.get(CacheInvalidator).invalidate(Shelf, 2);
    expect(await library.probe()).toEqual(['shelf2', 'shelves']);
  });
});
