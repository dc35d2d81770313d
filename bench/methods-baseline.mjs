// The hot path against a baseline commit, in one run: `NESTJS_CACHES_BENCH_BASELINE=<commit>
// npm run bench -- methods`. The commit's dist/ is built in a throwaway worktree and loaded beside
// this tree's; a locmem `cache.get` hit and a `@Cacheable` hit of each are timed interleaved with
// an async function reading a Map (what any async call costs), and each row is the median slice.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { formatNs, formatOps, formatRatio, formatSpread, measure, printTable } from './harness.mjs';

const rootDir = fileURLToPath(new URL('..', import.meta.url));
const KEY_COUNT = 1000;
// A @Cacheable hit may cost at most this much over the async Map read (issue 14).
const TARGET_ADDED_NS = 300;

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `recipe:${i}`);
const valueOf = (i) => ({ id: i, title: `Recipe ${i}`, minutes: 30 + (i % 60), vegetarian: i % 2 === 0 });

/** Builds `ref` in a worktree under a temporary directory; `remove()` takes both away. */
function buildBaseline(ref) {
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-caches-bench-baseline-'));
  const worktree = join(dir, 'baseline');
  execFileSync('git', ['-C', rootDir, 'worktree', 'add', '--detach', worktree, ref], { stdio: 'ignore' });
  symlinkSync(join(rootDir, 'node_modules'), join(worktree, 'node_modules'));
  execFileSync(process.execPath, [join(rootDir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: worktree,
    stdio: 'inherit',
  });
  return {
    library: join(worktree, 'dist/index.js'),
    remove: () => {
      execFileSync('git', ['-C', rootDir, 'worktree', 'remove', '--force', worktree], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One library's locmem `Cache` and a `@Cacheable` service over it, filled with the same values. */
async function boot(library, name) {
  const { Cache, Cacheable, CacheModule } = await import(pathToFileURL(library).href);
  class RecipesService {
    findOne(id) {
      return Promise.resolve(valueOf(Number(id)));
    }
  }
  // The decorators as TypeScript would apply them (this file is plain JavaScript).
  const descriptor = Object.getOwnPropertyDescriptor(RecipesService.prototype, 'findOne');
  Cacheable({ key: 'recipe:{0}', timeout: 600 })(RecipesService.prototype, 'findOne', descriptor);
  Object.defineProperty(RecipesService.prototype, 'findOne', descriptor);
  Injectable()(RecipesService);
  class BaselineBenchModule {}
  const store = { backend: 'locmem', location: `bench-baseline-${name}`, options: { maxEntries: 100_000 } };
  Module({ imports: [CacheModule.forRoot({ default: store })], providers: [RecipesService] })(BaselineBenchModule);
  const app = await NestFactory.createApplicationContext(BaselineBenchModule, { logger: false });
  const service = app.get(RecipesService);
  const cache = app.get(Cache);
  for (let i = 0; i < KEY_COUNT; i++) {
    await service.findOne(String(i)); // the method's own entries
    await cache.set(keys[i], valueOf(i));
  }
  return { app, get: (key) => cache.get(key), call: (key) => service.findOne(key.slice('recipe:'.length)) };
}

/** The interleaved A/B run of the hot path; prints its table and the verdicts. */
export async function againstBaseline(ref) {
  const baseline = buildBaseline(ref);
  const apps = [];
  try {
    const before = await boot(baseline.library, 'before');
    const after = await boot(join(rootDir, 'dist/index.js'), 'after');
    apps.push(before.app, after.app);
    const map = new Map(keys.map((key, i) => [key, valueOf(i)]));
    const pass = (read) => async () => {
      for (let i = 0; i < KEY_COUNT; i++) if ((await read(keys[i])) === undefined) throw new Error('a miss');
    };
    const tasks = [
      { name: 'async function reading a Map', fn: pass(async (key) => map.get(key)) },
      { name: `locmem get, ${ref}`, fn: pass(before.get) },
      { name: 'locmem get, this tree', fn: pass(after.get) },
      { name: `@Cacheable hit, ${ref}`, fn: pass(before.call) },
      { name: '@Cacheable hit, this tree', fn: pass(after.call) },
    ].map((task) => ({ ...task, opsPerCall: KEY_COUNT }));
    const [mapRead, getBefore, getAfter, hitBefore, hitAfter] = await measure(tasks, { rounds: 25 });
    printTable(
      `Hot path against ${ref}, same run: ${KEY_COUNT} keys, a 4-field object each`,
      ['task', 'ops/s', 'ns/op', 'spread', 'over the Map read'],
      [mapRead, getBefore, getAfter, hitBefore, hitAfter].map((r) => [
        r.name,
        formatOps(r.opsPerSec),
        formatNs(r.nsPerOp),
        formatSpread(r.spread),
        `${formatNs(r.nsPerOp - mapRead.nsPerOp)} ns`,
      ]),
    );
    const verdict = (ok) => (ok ? 'met' : 'MISSED');
    const getRatio = getAfter.nsPerOp / getBefore.nsPerOp;
    const hitRatio = hitAfter.nsPerOp / hitBefore.nsPerOp;
    const added = hitAfter.nsPerOp - mapRead.nsPerOp;
    console.log(`locmem get, this tree / ${ref}: ${formatRatio(getRatio)} (target <= 1): ${verdict(getRatio <= 1)}`);
    console.log(
      `@Cacheable hit, this tree / ${ref}: ${formatRatio(hitRatio)} (target <= 1): ${verdict(hitRatio <= 1)}`,
    );
    console.log(
      `@Cacheable hit over the Map read: ${formatNs(added)} ns (target <= ${TARGET_ADDED_NS}): ${verdict(added <= TARGET_ADDED_NS)}`,
    );
  } finally {
    for (const app of apps) await app.close();
    baseline.remove();
  }
}
