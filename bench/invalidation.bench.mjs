// `npm run bench -- invalidation`: what `dependsOn` adds to a cached read, and what the TypeORM
// subscriber adds to a write.
//
// Reads: a @Cacheable hit without dependsOn (the baseline), then the same hit with one entity,
// one row, and three dependencies (a row and two entities: four generations), on locmem and on
// redis. Every dependsOn hit reads its generations in one getMany before the value: on redis
// that is one more round trip, whatever the number of dependencies.
// Writes: repository save() of a changed row and a QueryBuilder update() on SQLite (better-sqlite3,
// in memory), with the subscriber bumping generations in locmem or redis, against the same write
// with `invalidation: false`, in the same run.
import 'reflect-metadata';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { EntitySchema } from 'typeorm';
import { ensureBinaries } from '../test/setup/binaries.mjs';
import { TestServers } from '../test/setup/servers.mjs';
import { Cacheable, CacheModule } from '../dist/index.js';
import {
  chartPath,
  formatNs,
  formatOps,
  formatRatio,
  formatSpread,
  isMain,
  measure,
  printTable,
  writeBarChart,
} from './harness.mjs';

const KEY_COUNT = 1000;
const WRITES_PER_CALL = 50;
const TTL_SECONDS = 3600;

const READS = [
  { name: '@Cacheable hit (baseline)', dependsOn: undefined },
  { name: '+ dependsOn [Recipe]', dependsOn: ['Recipe'] },
  { name: '+ dependsOn [[Recipe, id]]', dependsOn: [['Recipe', (args) => args[0]]] },
  { name: '+ dependsOn 3 (row, 2 entities)', dependsOn: [['Recipe', (args) => args[0]], 'Ingredient', 'Tag'] },
];

export async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-caches-bench-invalidation-'));
  chmodSync(dir, 0o755);
  let servers;
  try {
    if (!process.env.REDIS_URL) {
      servers = new TestServers(dir, ensureBinaries(['redis-server']));
      process.env.REDIS_URL = `redis://127.0.0.1:${await servers.startRedis()}`;
    }
    const stores = {
      locmem: (name) => ({
        backend: 'locmem',
        location: `bench-invalidation-${name}`,
        options: { maxEntries: 100_000 },
      }),
      redis: (name) => ({ backend: 'redis', location: process.env.REDIS_URL, keyPrefix: `bench-${name}` }),
    };
    const bars = [];
    for (const [storeName, store] of Object.entries(stores)) await reads(storeName, store, bars);
    for (const [storeName, store] of Object.entries(stores)) await writes(storeName, store, bars);
    writeBarChart(chartPath('invalidation'), {
      title: 'What dependsOn adds to a cached read, and the subscriber to a write, ops/s (higher is faster)',
      unit: 'ops/s',
      bars,
      note:
        'Each bar is the median of interleaved slices of one run; ratios are to the same read or write without ' +
        'invalidation (grey) in the same group, each group with its own axis from zero. Writes: SQLite in memory (better-sqlite3).',
    });
  } finally {
    await servers?.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One service per row of READS, each a @Cacheable method reading the same values. */
async function reads(storeName, store, bars) {
  const services = [];
  for (const [index, read] of READS.entries()) {
    class RecipesService {
      findOne(id) {
        return { id: Number(id), title: `Recipe ${id}`, minutes: 30 + (id % 60) };
      }
    }
    // The decorators as TypeScript would apply them (this file is plain JavaScript).
    const descriptor = Object.getOwnPropertyDescriptor(RecipesService.prototype, 'findOne');
    Cacheable({ key: `r${index}:{0}`, timeout: TTL_SECONDS, dependsOn: read.dependsOn })(
      RecipesService.prototype,
      'findOne',
      descriptor,
    );
    Object.defineProperty(RecipesService.prototype, 'findOne', descriptor);
    Injectable()(RecipesService);
    services.push(RecipesService);
  }
  class BenchModule {}
  Module({
    imports: [CacheModule.forRoot({ default: store('reads') }, { invalidation: false })],
    providers: services,
  })(BenchModule);
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  try {
    const instances = services.map((service) => app.get(service));
    for (const instance of instances) for (let i = 0; i < KEY_COUNT; i++) await instance.findOne(i); // fills
    const results = await measure(
      instances.map((instance, index) => ({
        name: READS[index].name,
        opsPerCall: KEY_COUNT,
        fn: async () => {
          for (let i = 0; i < KEY_COUNT; i++) await instance.findOne(i);
        },
      })),
      storeName === 'redis' ? { rounds: 7, sliceMs: 150 } : undefined,
    );
    const baseline = results[0].nsPerOp;
    for (const r of results) {
      bars.push({ group: `read hit, ${storeName}`, label: r.name, value: r.opsPerSec, baseline: r === results[0] });
    }
    printTable(
      `A cached read with dependsOn, on ${storeName} (hits only; ratio to the baseline of this run)`,
      ['read', 'ops/s', 'ns/op', 'added ns', 'ratio', 'spread'],
      results.map((r) => [
        r.name,
        formatOps(r.opsPerSec),
        formatNs(r.nsPerOp),
        r === results[0] ? '-' : formatNs(r.nsPerOp - baseline),
        formatRatio(r.nsPerOp / baseline),
        formatSpread(r.spread),
      ]),
    );
  } finally {
    await app.close();
  }
}

const RecipeSchema = new EntitySchema({
  name: 'Recipe',
  tableName: 'recipe',
  columns: { id: { type: Number, primary: true, generated: true }, title: { type: String } },
});

/** The same writes with the subscriber on and off, each app on its own in-memory database. */
async function writes(storeName, store, bars) {
  const boot = async (invalidation, name) => {
    class BenchModule {}
    Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'better-sqlite3',
          database: ':memory:',
          entities: [RecipeSchema],
          synchronize: true,
        }),
        TypeOrmModule.forFeature([RecipeSchema]),
        CacheModule.forRoot({ default: store(name) }, invalidation ? {} : { invalidation: false }),
      ],
    })(BenchModule);
    const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
    const dataSource = app.get(getDataSourceToken());
    const repository = dataSource.getRepository('Recipe');
    await repository.save(Array.from({ length: WRITES_PER_CALL }, (_, i) => ({ title: `Recipe ${i}` })));
    return { app, dataSource, repository };
  };
  const off = await boot(false, 'writes-off');
  const on = await boot(true, 'writes-on');
  try {
    let n = 0;
    const save =
      ({ repository }) =>
      async () => {
        n++;
        for (let id = 1; id <= WRITES_PER_CALL; id++) await repository.save({ id, title: `Recipe ${id} v${n}` });
      };
    const update =
      ({ dataSource }) =>
      async () => {
        n++;
        for (let id = 1; id <= WRITES_PER_CALL; id++) {
          await dataSource
            .createQueryBuilder()
            .update('Recipe')
            .set({ title: `v${n}` })
            .where('id = :id', { id })
            .execute();
        }
      };
    const results = await measure(
      [
        { name: 'save() of a changed row, invalidation: false', opsPerCall: WRITES_PER_CALL, fn: save(off) },
        { name: 'save() of a changed row, subscriber on', opsPerCall: WRITES_PER_CALL, fn: save(on) },
        { name: 'QueryBuilder update(), invalidation: false', opsPerCall: WRITES_PER_CALL, fn: update(off) },
        { name: 'QueryBuilder update(), subscriber on', opsPerCall: WRITES_PER_CALL, fn: update(on) },
      ],
      { rounds: 9, sliceMs: 120 },
    );
    for (const [index, r] of results.entries()) {
      const kind = r.name.startsWith('save()') ? 'save()' : 'QueryBuilder update()';
      bars.push({
        group: `${kind} on SQLite, generations in ${storeName}`,
        label: r.name.split(', ').pop(), // the group names the write
        value: r.opsPerSec,
        baseline: index % 2 === 0,
      });
    }
    printTable(
      `A write on SQLite with the subscriber bumping generations in ${storeName} (ratio to the same write without it)`,
      ['write', 'ops/s', 'ns/op', 'added ns', 'ratio', 'spread'],
      results.map((r, index) => {
        const baseline = results[index - (index % 2)].nsPerOp;
        return [
          r.name,
          formatOps(r.opsPerSec),
          formatNs(r.nsPerOp),
          index % 2 === 0 ? '-' : formatNs(r.nsPerOp - baseline),
          formatRatio(r.nsPerOp / baseline),
          formatSpread(r.spread),
        ];
      }),
    );
  } finally {
    await on.app.close();
    await off.app.close();
  }
}

if (isMain(import.meta.url)) await run();
