import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { CacheInvalidator, CacheModule, Caches, versionedKeyPart, type CacheModuleOptions } from '../../lib/index.js';
import { GENERATION_NAMESPACE } from '../../lib/invalidation/dependencies.js';
import { ENTITIES, Shelf } from './library.fixture.js';
import { initOrClose } from '../support/init-or-close.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const modules: TestingModule[] = [];
afterEach(async () => {
  while (modules.length > 0) await modules.pop()!.close();
});

let stores = 0;
async function boot(options: CacheModuleOptions, imports: unknown[] = []): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ...(imports as []),
      CacheModule.forRoot(
        { default: { backend: 'locmem', location: `invalidation-config-${++stores}`, options: { maxEntries: 5 } } },
        options,
      ),
    ],
  }).compile();
  await initOrClose(moduleRef);
  modules.push(moduleRef);
  return moduleRef;
}

const sqlite = () => [TypeOrmModule.forRoot({ type: 'better-sqlite3', database: ':memory:', entities: ENTITIES })];
const ours = (dataSource: DataSource) =>
  dataSource.subscribers.filter((subscriber) => subscriber.constructor.name === 'InvalidationSubscriber');

describe('the invalidation option', () => {
  it('attaches to the default DataSource with no configuration, and not at all with invalidation: false', async () => {
    const on = await boot({}, sqlite());
    expect(ours(on.get<DataSource>(getDataSourceToken()))).toHaveLength(1);
    const off = await boot({ invalidation: false }, sqlite());
    expect(ours(off.get<DataSource>(getDataSourceToken()))).toHaveLength(0);
    expect(off.get(CacheInvalidator)).toBeDefined(); // by hand still works
  });

  it('attaches to named DataSources, once each', async () => {
    const moduleRef = await boot({ invalidation: { dataSources: ['default', 'archive', 'archive'] } }, [
      ...sqlite(),
      TypeOrmModule.forRoot({ name: 'archive', type: 'better-sqlite3', database: ':memory:', entities: ENTITIES }),
    ]);
    expect(ours(moduleRef.get<DataSource>(getDataSourceToken()))).toHaveLength(1);
    expect(ours(moduleRef.get<DataSource>(getDataSourceToken('archive')))).toHaveLength(1);
  });

  it('boots an app without TypeORM, and CacheInvalidator works there', async () => {
    const moduleRef = await boot({});
    expect(() => moduleRef.get(getDataSourceToken(), { strict: false })).toThrow(); // no TypeORM here
    const cache = moduleRef.get(Caches).default;
    const row = (id: number) => versionedKeyPart(cache, [[Shelf, (input: number[]) => input[0]]], [id]);
    const entity = () => versionedKeyPart(cache, [Shelf], []);
    const [one, two, all] = [await row(1), await row(2), await entity()];
    await moduleRef.get(CacheInvalidator).invalidate(Shelf, 1);
    expect(await row(1)).not.toBe(one);
    expect(await row(2)).toBe(two);
    expect(await entity()).not.toBe(all);
    const onlyEntity = await row(2);
    await moduleRef.get(CacheInvalidator).invalidate(Shelf); // no id: every row of the entity
    expect(await row(2)).not.toBe(onlyEntity);
  });

  it.each([
    [
      { invalidation: { dataSources: ['missing'] } },
      /invalidation\.dataSources: no TypeORM DataSource named 'missing'/,
    ],
    [
      { invalidation: { dataSources: 'default' } },
      /invalidation\.dataSources must be an array of @nestjs\/typeorm connection names/,
    ],
    [{ invalidation: { caches: ['nope'] } }, /nope/],
    [
      { invalidation: { sources: [] } },
      /invalidation\.sources is not an option; known: dataSources, caches, relations, generationTimeout/,
    ],
    [
      { invalidation: { generationTimeout: 0 } },
      /invalidation\.generationTimeout must be a number of seconds above 0, or null \(never expire\); got 0/,
    ],
    [{ invalidation: { generationTimeout: '1d' } }, /invalidation\.generationTimeout must be a number of seconds/],
    [{ invalidation: 'yes' }, /invalidation must be false \(off\) or an object/],
    [
      { invalidation: { relations: [{ from: Shelf, to: Shelf, id: () => 1 }] } },
      /invalidation\.relations\[0\]\.to must be a function returning the entity/,
    ],
  ])('fails at boot with a CacheConfigError naming the field: %j', async (options, message) => {
    const error = await boot(options as CacheModuleOptions, sqlite()).catch((caught: Error) => caught);
    expect(error).toHaveProperty('name', 'CacheConfigError');
    expect((error as Error).message).toMatch(message);
  });

  it('boots where typeorm and @nestjs/typeorm are not installed; naming a DataSource there says what to install', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        './test/support/register-ts.mjs',
        '--import',
        './test/invalidation/hide-typeorm.mjs',
        'test/invalidation/without-typeorm.worker.ts',
      ],
      { cwd: root },
    );
    expect(stdout).toContain('typeorm missing: true');
    expect(stdout).toContain('default: booted');
    expect(stdout).toMatch(
      /named: CacheConfigError: invalidation\.dataSources is set, which needs @nestjs\/typeorm and typeorm: npm install @nestjs\/typeorm typeorm$/m,
    );
  }, 30_000);
});

describe('generations', () => {
  it('live under a reserved namespace, and a generation that disappears never comes back to an old token', async () => {
    const moduleRef = await boot({ invalidation: false });
    const cache = moduleRef.get(Caches).default;
    const dependsOn = [Shelf, [Shelf, (input: number[]) => input[0]] as const];
    const seen = new Set<string>();
    const first = await versionedKeyPart(cache, dependsOn, [1]);
    expect(await versionedKeyPart(cache, dependsOn, [1])).toBe(first); // stable while nothing changes
    seen.add(first);
    for (let i = 0; i < 50; i++) {
      // locmem keeps 5 entries (LRU): these push the generations out, as a busy store would.
      for (let j = 0; j < 6; j++) await cache.set(`filler:${i}:${j}`, j);
      const part = await versionedKeyPart(cache, dependsOn, [1]);
      expect(seen.has(part)).toBe(false);
      seen.add(part);
    }
    const keys = [
      `${GENERATION_NAMESPACE}Shelf`,
      `${GENERATION_NAMESPACE}Shelf:rows`,
      `${GENERATION_NAMESPACE}Shelf:row:1`,
    ];
    expect((await cache.getMany(keys)).size).toBe(3);
    expect(GENERATION_NAMESPACE.startsWith('__nestjs_caches__')).toBe(true);
  });

  it('a bump changes the part of the row and of the entity, and leaves other rows alone', async () => {
    const moduleRef = await boot({ invalidation: false });
    const cache = moduleRef.get(Caches).default;
    const row = (id: number) => versionedKeyPart(cache, [[Shelf, (input: number[]) => input[0]]], [id]);
    const entity = () => versionedKeyPart(cache, [Shelf], []);
    const [one, two, all] = [await row(1), await row(2), await entity()];
    await moduleRef.get(CacheInvalidator).invalidate(Shelf, '1'); // '1' and 1 are the same row
    expect(await row(1)).not.toBe(one);
    expect(await row(2)).toBe(two);
    expect(await entity()).not.toBe(all);
  });
});
