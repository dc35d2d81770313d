// `npm run bench -- backends`: redis, tiered, keyv, memcached and database through the public API,
// each against its raw client doing the same commands in the same run; then how locmem,
// filesystem and database costs grow with their size (bench/backends-scaling.mjs). Servers come from
// REDIS_URL / MEMCACHED_SERVERS / POSTGRES_URL, or are started here, as the tests start them.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../test/setup/binaries.mjs';
import { POSTGRES_DATABASE, TestServers } from '../test/setup/servers.mjs';
import { runDatabaseBench } from './backends-database.mjs';
import { run as runKeyvBenches } from './backends-keyv.mjs';
import { runScalingBench } from './backends-scaling.mjs';
import { run as runMemcachedBench } from './backends-memcached.mjs';
import { run as runRedisBenches } from './backends-redis.mjs';
import { chartPath, isMain, writeBarChart } from './harness.mjs';

export async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-caches-bench-'));
  chmodSync(dir, 0o755); // PostgreSQL runs as its own user and must reach its folder
  let servers;
  try {
    servers = new TestServers(dir, ensureBinaries(['redis-server', 'memcached', 'postgres']));
    const env = process.env;
    env.REDIS_URL ??= `redis://127.0.0.1:${await servers.startRedis()}`;
    env.MEMCACHED_SERVERS ??= (await Promise.all([1, 2].map((n) => servers.startMemcached(n))))
      .map((port) => `127.0.0.1:${port}`)
      .join(',');
    env.POSTGRES_URL ??= `postgres://postgres@127.0.0.1:${await servers.startPostgres()}/${POSTGRES_DATABASE}`;
    const pinning = pinApart(servers.pidFile);
    console.log(pinning);
    const bars = [];
    await runRedisBenches(bars);
    await runKeyvBenches(bars);
    await runMemcachedBench(bars);
    await runDatabaseBench(bars);
    writeBarChart(chartPath('backends'), {
      title: 'Server backends through Cache against their raw clients, ops/s (higher is faster)',
      unit: 'ops/s',
      bars,
      note:
        'Each bar is the median of interleaved slices of one run; ratios are to the raw client doing the same commands ' +
        '(grey; for tiered, a plain locmem get) in the same group, each group with its own axis from zero. ' +
        `${pinning} redis: 100 commands in flight (getMany: one MGET of 100 keys); keyv: against Keyv + @keyv/redis and Keyv's Map, 100 keys; memcached: 2 servers, 100 pipelined commands; database: 200 keys.`,
    });
    await runScalingBench();
  } finally {
    await servers?.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The servers this bench started on core 0, this process on core 1: client and server then stop
 * taking turns on one core, which made the client's share, and so the ratios, swing from run to
 * run. Both sides of every ratio run under the same pinning.
 */
function pinApart(pidFile) {
  if (cpus().length < 2) return 'One core only: servers and bench share it.';
  const pids = existsSync(pidFile)
    ? readFileSync(pidFile, 'utf8')
        .split('\n')
        .map((line) => line.split(' ')[1])
        .filter(Boolean)
    : [];
  const pin = (core, pid) =>
    spawnSync('taskset', ['-a', '-p', '-c', String(core), pid], { stdio: 'ignore' }).status === 0;
  const pinned = pin(1, String(process.pid)) && pids.every((pid) => pin(0, pid));
  return pinned
    ? `Servers this bench started pinned to core 0 (taskset), the bench to core 1.`
    : 'Not pinned (taskset failed): servers and bench share the cores.';
}

if (isMain(import.meta.url)) await run();
