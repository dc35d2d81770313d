// `npm run bench -- methods`: method caching. A @Cacheable hit on locmem against an async function
// reading a Map (what the decorator adds), BentoCache's getOrSet hit and cache-manager's wrap hit,
// all in memory with the same value; then stampedes: concurrent callers of a cold key against the
// number of times the method ran, in one process and across processes on redis.
// With NESTJS_CACHES_BENCH_BASELINE=<commit>, only the hot path against that commit instead
// (bench/methods-baseline.mjs).
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
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
  chartPath,
  writeBarChart,
} from './harness.mjs';
import { againstBaseline } from './methods-baseline.mjs';
import { cachedFunction, LIBRARIES } from './methods-libraries.mjs';

const KEY_COUNT = 1000;
const TARGET_ADDED_NS = 1000;
const TARGET_VS_BENTO = 10;
const TARGET_VS_CACHE_MANAGER = 2.5;
const IN_PROCESS_CALLERS = 1000;
const PROCESSES = 4;
const CALLERS_PER_PROCESS = 250;

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `recipe:${i}`);
const valueOf = (i) => ({ id: i, title: `Recipe ${i}`, minutes: 30 + (i % 60), vegetarian: i % 2 === 0 });

export async function run() {
  const baseline = process.env.NESTJS_CACHES_BENCH_BASELINE;
  if (baseline) return againstBaseline(baseline);
  await hits();
  await inProcessStampede();
  await crossProcessStampede();
}

async function hits() {
  const map = new Map(keys.map((key, i) => [key, valueOf(i)]));
  const readMap = async (key) => map.get(key);
  let filling = true;
  const compute = async (key) => {
    if (!filling) throw new Error(`A miss on '${key}': a hit benchmark must only hit.`);
    return { ...map.get(key) };
  };
  const built = {};
  for (const library of ['nestjs-caches', 'bentocache', 'cache-manager']) {
    built[library] = await cachedFunction(library, compute, { prefix: 'hits' });
    for (const key of keys) await built[library].call(key); // stores the same values in each
  }
  filling = false;
  const pass = (call) => async () => {
    for (let i = 0; i < KEY_COUNT; i++) if ((await call(keys[i])) === undefined) throw new Error('undefined value');
  };
  const tasks = [
    { name: 'async function reading a Map', fn: pass(readMap) },
    { name: '@Cacheable hit (locmem)', fn: pass(built['nestjs-caches'].call) },
    { name: 'BentoCache getOrSet hit (memory)', fn: pass(built.bentocache.call) },
    { name: 'cache-manager wrap hit (memory)', fn: pass(built['cache-manager'].call) },
  ].map((task) => ({ ...task, opsPerCall: KEY_COUNT }));
  const results = await measure(tasks);
  const [baseline, ours, bentoHit, managerHit] = results;
  printTable(
    `Cached method hit: ${KEY_COUNT} keys, a 4-field object each`,
    ['task', 'ops/s', 'ns/op', 'spread', '@Cacheable is faster by'],
    results.map((r) => [
      r.name,
      formatOps(r.opsPerSec),
      formatNs(r.nsPerOp),
      formatSpread(r.spread),
      formatRatio(r.nsPerOp / ours.nsPerOp),
    ]),
  );
  writeBarChart(chartPath('methods'), {
    title: `Cached method hit: ${KEY_COUNT} keys, a 4-field object each (higher is faster)`,
    unit: 'ops/s',
    bars: results.map((r) => ({ label: r.name, value: r.opsPerSec, baseline: r === ours })),
    note:
      'Each bar is the median of interleaved slices of one run; ratios are to the @Cacheable hit (grey), one axis from zero. ' +
      'The async function reading a Map is what a call costs with no cache at all.',
  });
  const verdict = (ok) => (ok ? 'met' : 'MISSED');
  const added = ours.nsPerOp - baseline.nsPerOp;
  const vsBento = bentoHit.nsPerOp / ours.nsPerOp;
  const vsManager = managerHit.nsPerOp / ours.nsPerOp;
  console.log(
    `@Cacheable adds ${formatNs(added)} ns per call to the Map read (target <= ${TARGET_ADDED_NS}): ${verdict(added <= TARGET_ADDED_NS)}`,
  );
  console.log(
    `vs BentoCache: ${formatRatio(vsBento)} (target >= ${TARGET_VS_BENTO}x): ${verdict(vsBento >= TARGET_VS_BENTO)}`,
  );
  console.log(
    `vs cache-manager: ${formatRatio(vsManager)} (target >= ${TARGET_VS_CACHE_MANAGER}x): ${verdict(vsManager >= TARGET_VS_CACHE_MANAGER)}`,
  );
  for (const library of Object.values(built)) await library.close();
}

/** A method that takes 50 ms and counts its runs, for the stampede tables. */
function countedCompute() {
  const compute = async () => {
    compute.runs++;
    await sleep(50);
    return { id: 1, title: 'Recipe 1' };
  };
  compute.runs = 0;
  return compute;
}

async function inProcessStampede() {
  const rows = [];
  for (const library of LIBRARIES.filter((name) => !name.endsWith('lock'))) {
    const compute = countedCompute();
    const built = await cachedFunction(library, compute, { prefix: 'stampede' });
    const started = performance.now();
    await Promise.all(Array.from({ length: IN_PROCESS_CALLERS }, () => built.call('recipe:1')));
    rows.push([library, IN_PROCESS_CALLERS, compute.runs, Math.round(performance.now() - started)]);
    await built.close();
  }
  printTable(
    'Stampede in one process: concurrent callers of a cold key (the method takes 50 ms), in memory',
    ['library', 'callers', 'method runs', 'ms'],
    rows,
  );
}

/** Processes started together on a cold key in redis; the method counts its runs in redis. */
async function crossProcessStampede() {
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-caches-bench-'));
  let servers;
  try {
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      servers = new TestServers(dir, ensureBinaries(['redis-server']));
      redisUrl = `redis://127.0.0.1:${await servers.startRedis()}`;
    }
    const redis = new Redis(redisUrl);
    const worker = fileURLToPath(new URL('./methods-worker.mjs', import.meta.url));
    const rows = [];
    for (const library of LIBRARIES) {
      const prefix = `bench-${library.replace(/\W+/g, '-')}-${Date.now()}`;
      const startAt = String(Date.now() + 3000); // time for every process to boot
      const outputs = await Promise.all(
        Array.from({ length: PROCESSES }, () =>
          execFileAsync(process.execPath, [worker, library, redisUrl, prefix, startAt, String(CALLERS_PER_PROCESS)]),
        ),
      );
      const slowest = Math.max(...outputs.map(({ stdout }) => JSON.parse(stdout).ms));
      const runs = Number(await redis.get(`${prefix}:runs`));
      rows.push([library, PROCESSES, PROCESSES * CALLERS_PER_PROCESS, runs, Math.round(slowest)]);
    }
    redis.disconnect();
    printTable(
      `Stampede across ${PROCESSES} processes on redis: ${CALLERS_PER_PROCESS} concurrent callers each, cold key, method takes 50 ms`,
      ['library', 'processes', 'callers', 'method runs', 'slowest ms'],
      rows,
    );
  } finally {
    await servers?.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

const execFileAsync = promisify(execFile);

if (isMain(import.meta.url)) {
  console.log(environmentHeader());
  await run();
}
