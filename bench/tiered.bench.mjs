// `npm run bench -- tiered`: a tiered (locmem + redis, with a bus) L1 hit of this tree against the
// same hit of a baseline commit (NESTJS_CACHES_BENCH_BASELINE, default HEAD~1: before a merge),
// both built and loaded into this process and timed interleaved in the same run; target: within
// 5 %. The hit is timed with a maxStaleness long enough (5 s) that no stall of a loaded machine
// (the harness's GC between slices included) lapses the bus's vouch, and again with the default
// 0.25 s, lapses and all: a lapsed read goes to redis by design, and the GETs redis counted say
// how many did. Then what the bus's liveness check costs: the PINGs per second one instance
// sends, read from the bus server's own command counts. Uses REDIS_URL, or starts a redis-server
// of its own.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { ensureBinaries } from '../test/setup/binaries.mjs';
import { TestServers } from '../test/setup/servers.mjs';
import {
  environmentHeader,
  formatNs,
  formatOps,
  formatRatio,
  formatSpread,
  isMain,
  measure,
  printTable,
} from './harness.mjs';

const TARGET = 1.05;
const KEY_COUNT = 100;
const rootDir = fileURLToPath(new URL('..', import.meta.url));
const keys = Array.from({ length: KEY_COUNT }, (_, i) => `item:${i}`);
const values = keys.map((_, i) => ({ id: i, name: `Item ${i}`, active: i % 2 === 0 }));

/** The baseline commit's dist/, built in a throwaway worktree. */
function buildBaseline(ref, dir) {
  execFileSync('git', ['-C', rootDir, 'worktree', 'add', '--detach', dir, ref], { stdio: 'ignore' });
  symlinkSync(join(rootDir, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, [join(rootDir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: dir,
    stdio: 'inherit',
  });
  return join(dir, 'dist/index.js');
}

async function boot(library, alias, url, db, bound = {}) {
  const { CacheModule, Caches } = await import(pathToFileURL(library).href);
  const l2 = new URL(url);
  l2.pathname = `/${db}`;
  class TieredBenchModule {}
  Module({
    imports: [
      CacheModule.forRoot({
        default: { backend: 'locmem', location: `bench-${alias}-l1`, timeout: null, options: { maxEntries: 10_000 } },
        l2: { backend: 'redis', location: l2.href, timeout: null },
        [alias]: { backend: 'tiered', tiers: ['default', 'l2'], bus: url, timeout: null, ...bound },
      }),
    ],
  })(TieredBenchModule);
  const app = await NestFactory.createApplicationContext(TieredBenchModule, { logger: false });
  await app.init();
  const cache = app.get(Caches).get(alias);
  for (let i = 0; i < KEY_COUNT; i++) await cache.set(keys[i], values[i]);
  return { app, cache };
}

export async function run() {
  const ref = process.env.NESTJS_CACHES_BENCH_BASELINE ?? 'HEAD~1';
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-caches-bench-tiered-'));
  const servers = process.env.REDIS_URL ? undefined : new TestServers(dir, ensureBinaries(['redis-server']));
  const worktree = join(dir, 'baseline');
  const apps = [];
  let admin;
  try {
    const url = process.env.REDIS_URL ?? `redis://127.0.0.1:${await servers.startRedis()}`;
    const baselineLibrary = buildBaseline(ref, worktree);
    console.log(`\n== tiered with a bus: L1 hit of this tree against ${ref}, same run (target <= ${TARGET}x) ==`);
    const before = await boot(baselineLibrary, 'before', url, 10);
    const after = await boot(join(rootDir, 'dist/index.js'), 'after', url, 11, { maxStaleness: 5 });
    const lapsing = await boot(join(rootDir, 'dist/index.js'), 'lapsing', url, 12);
    apps.push(before.app, after.app, lapsing.app);
    admin = new Redis(url);
    const commandCalls = async (command) =>
      Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await admin.info('commandstats'))?.[1] ?? 0);
    const getAll = (cache) => async () => {
      for (let i = 0; i < KEY_COUNT; i++) if ((await cache.get(keys[i])) === undefined) throw new Error('missed');
    };
    const names = [`${ref} L1 hit`, 'this tree L1 hit', 'this tree, 0.25 s bound'];
    // Slices (and the warm-up) shorter than maxStaleness: a stretch of synchronous hits longer
    // than that keeps the bus from vouching, and reads then go to redis, by design.
    await admin.config('RESETSTAT');
    const results = await measure(
      [
        { name: names[0], fn: getAll(before.cache), opsPerCall: KEY_COUNT },
        { name: names[1], fn: getAll(after.cache), opsPerCall: KEY_COUNT },
        { name: names[2], fn: getAll(lapsing.cache), opsPerCall: KEY_COUNT },
      ],
      { rounds: 25, sliceMs: 40, warmupMs: 100 },
    );
    const lapsedReads = await commandCalls('get');
    printTable(
      `tiered (locmem + redis, bus): ${KEY_COUNT} small objects, every read an L1 hit while the bus vouches`,
      ['way', 'ops/s', 'ns/op', 'spread', `cost vs ${ref}`],
      results.map((result) => [
        result.name,
        formatOps(result.opsPerSec),
        formatNs(result.nsPerOp),
        formatSpread(result.spread),
        formatRatio(result.nsPerOp / results[0].nsPerOp),
      ]),
    );
    // Only lapsed reads reach redis: the baseline has no vouch to lapse.
    console.log(`reads answered by redis while the vouch had lapsed (timing above): ${lapsedReads}`);
    // The liveness check: commands this instance sends the bus while idle (the baseline's sends none).
    await after.app.close();
    apps.splice(apps.indexOf(after.app), 1);
    await admin.config('RESETSTAT');
    const seconds = 2;
    await sleep(seconds * 1000);
    const pings = await commandCalls('ping');
    console.log(`liveness check: ${(pings / seconds).toFixed(1)} PINGs/s per instance (maxStaleness 0.25 s)`);
  } finally {
    admin?.disconnect();
    await Promise.all(apps.map((app) => app.close()));
    await servers?.stopAll();
    if (existsSync(worktree)) execFileSync('git', ['-C', rootDir, 'worktree', 'remove', '--force', worktree]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  console.log(environmentHeader());
  await run();
}
