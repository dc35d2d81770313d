// `npm run soak [-- --seconds=120 --rate=300 --redis=redis://… --json]`: the sample app, built and
// started as `npm start` runs it but with CACHE_URL on a redis-server, driven at a fixed request
// rate for a bounded time by autocannon with a mix of its pages, JSON routes and edits (which
// invalidate through the TypeORM subscriber). Reports latency percentiles, the error count (must
// be 0) and the app's heap over time (must stay flat). Exits 1 when either check fails.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { ensureBinaries } from '../test/setup/binaries.mjs';
import { TestServers } from '../test/setup/servers.mjs';
import { environmentHeader, printTable } from './harness.mjs';

const rootDir = fileURLToPath(new URL('..', import.meta.url));
const CONNECTIONS = 20;
// Memory is read this many times during the run, and once after it. The first quarter of the
// run, and at least its first 10 s, is warm-up: the heap still grows while code is compiled and
// pools fill.
const MEMORY_SAMPLES = 16;
const WARMUP_SHARE = 0.25;
const MIN_WARMUP_SECONDS = 10;
// Flat: the heap's trend after warm-up is under this rate. At 200 req/s, a leak of about 170
// bytes per request would reach it.
const FLAT_BYTES_PER_MINUTE = 2 * 1024 * 1024;

/**
 * The traffic, per 100 requests. Most go to a fixed set of URLs (hits); 5 go to a URL never seen
 * before (a miss, a new page key in redis and a new learned route in the app: what must stay
 * bounded in the process); 2 are edits, which bump the recipe's generation.
 */
const MIX = [
  [20, () => ({ path: '/pages/per-view' })],
  [14, () => ({ path: '/pages/fragments' })],
  [14, () => ({ path: '/pages/low-level' })],
  [20, (n, nextId) => ({ path: `/pages/recipes/${nextId()}` })],
  [10, (n, nextId) => ({ path: `/recipes/${nextId()}/page` })],
  [10, () => ({ path: '/' })],
  [5, (n) => ({ path: `/pages/per-view?visit=${n}` })],
  [5, () => ({ path: '/pages/uncached' })],
  [
    2,
    (n, nextId) => ({
      method: 'PATCH',
      path: `/recipes/${nextId()}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ description: `Edited by the soak, edit ${n}.` }),
    }),
  ],
];

async function run(argv) {
  const options = parseOptions(argv);
  const workDir = mkdtempSync(join(tmpdir(), 'nestjs-caches-soak-'));
  let servers;
  let app;
  try {
    let redisUrl = options.redis;
    if (!redisUrl) {
      servers = new TestServers(workDir, ensureBinaries(['redis-server']));
      redisUrl = `redis://127.0.0.1:${await servers.startRedis()}/0`;
    }
    buildSample();
    app = await SampleProcess.start(workDir, redisUrl);
    const result = await soak(app, options);
    report(result, options, redisUrl);
    return result;
  } finally {
    await app?.stop();
    await servers?.stopAll();
    rmSync(workDir, { recursive: true, force: true });
  }
}

function parseOptions(argv) {
  const options = { seconds: 120, rate: 300, redis: undefined, json: false };
  for (const arg of argv) {
    const [name, value] = arg.replace(/^--/, '').split('=');
    if (name === 'json') options.json = true;
    else if (name === 'redis') options.redis = value;
    else if ((name === 'seconds' || name === 'rate') && Number(value) > 0) options[name] = Number(value);
    else throw new Error(`soak: unknown or bad option '${arg}'; use --seconds=N --rate=N --redis=URL --json.`);
  }
  return options;
}

function buildSample() {
  const tsc = join(rootDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const built = spawnSync(process.execPath, [tsc, '-p', join(rootDir, 'sample', 'tsconfig.json')], {
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error('soak: building the sample failed (see above).');
}

/** The built sample (`npm start`'s command) with the memory probe preloaded, on a port of its own. */
class SampleProcess {
  static async start(workDir, redisUrl) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        join(rootDir, 'bench', 'soak-probe.mjs'),
        join(rootDir, 'sample/dist/sample/main.js'),
      ],
      {
        cwd: rootDir,
        env: {
          ...process.env,
          PORT: String(port),
          CACHE_URL: redisUrl,
          SAMPLE_DB_PATH: join(workDir, 'recipes.sqlite'),
          CACHE_DIR: join(workDir, 'cache'),
        },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      },
    );
    const app = new SampleProcess(child, `http://127.0.0.1:${port}`);
    try {
      await app.waitUntilServing();
    } catch (error) {
      child.kill('SIGKILL'); // its IPC channel would keep this process alive
      throw error;
    }
    return app;
  }

  constructor(child, url) {
    this.child = child;
    this.url = url;
    this.asking = undefined;
  }

  async waitUntilServing() {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`soak: the sample exited with ${this.child.exitCode}.`);
      try {
        if ((await fetch(`${this.url}/recipes`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error('soak: the sample did not answer within 30 s.');
  }

  /**
   * The heap after a full collection, and the resident set, as the probe reports them. One
   * question at a time (a caller while one is out shares its answer); no answer in 10 s rejects.
   */
  memory() {
    this.asking ??= this.ask().finally(() => {
      this.asking = undefined;
    });
    return this.asking;
  }

  async ask() {
    const reply = once(this.child, 'message', { signal: AbortSignal.timeout(10_000) });
    this.child.send('memory');
    const [usage] = await reply;
    return usage;
  }

  async stop() {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

async function soak(app, { seconds, rate }) {
  const ids = (await (await fetch(`${app.url}/recipes`)).json()).map((recipe) => recipe.id);
  const nextRequest = trafficMix(ids);
  const memory = [];
  const startedAt = Date.now();
  const sampler = setInterval(
    () =>
      app.memory().then(
        (usage) => memory.push({ second: (usage.at - startedAt) / 1000, ...usage }),
        () => undefined, // the app stopped answering: autocannon's errors will say so
      ),
    (seconds * 1000) / MEMORY_SAMPLES,
  );
  let result;
  try {
    result = await autocannon({
      url: app.url,
      connections: CONNECTIONS,
      overallRate: rate,
      duration: seconds,
      requests: [{ setupRequest: (request) => ({ ...request, ...nextRequest() }) }],
    });
  } finally {
    clearInterval(sampler);
  }
  const last = await app.memory();
  // Taken with no request in flight, it sits lower than the samples under load: shown, not
  // part of the trend, which it would pull down.
  memory.push({ second: (last.at - startedAt) / 1000, afterLoad: true, ...last });
  return {
    seconds,
    targetRate: rate,
    requests: result.requests.total,
    achievedRate: result.requests.total / result.duration,
    errors: result.errors + result.timeouts + result.non2xx,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    memory,
    heap: heapTrend(memory, seconds),
  };
}

/** Deterministic: the same run sends the same requests in the same order. */
function trafficMix(ids) {
  const wheel = MIX.flatMap(([weight, make]) => Array(weight).fill(make));
  let n = 0;
  let idTurn = 0;
  // Ids from a counter of their own: taken from n, they would follow the route slots, and the
  // edits would only ever reach a few recipes.
  const nextId = () => ids[idTurn++ % ids.length];
  return () => {
    n++;
    const make = wheel[(n * 37) % wheel.length]; // 37 is prime to the wheel's 100 slots: all of them, well spread
    return { method: 'GET', body: undefined, headers: {}, ...make(n, nextId) };
  };
}

/**
 * The heap's growth over the measured part of the run (after warm-up), from the least-squares
 * line through the samples, so that one sample taken mid-burst does not decide it.
 */
function heapTrend(memory, seconds) {
  const warmup = Math.min(Math.max(seconds * WARMUP_SHARE, MIN_WARMUP_SECONDS), seconds / 2);
  const measured = memory.filter((sample) => sample.second >= warmup && !sample.afterLoad);
  const n = measured.length;
  if (n < 3) throw new Error(`soak: only ${n} memory samples after warm-up; run for longer (--seconds).`);
  const meanX = measured.reduce((sum, s) => sum + s.second, 0) / n;
  const meanY = measured.reduce((sum, s) => sum + s.heapUsed, 0) / n;
  const slope =
    measured.reduce((sum, s) => sum + (s.second - meanX) * (s.heapUsed - meanY), 0) /
    measured.reduce((sum, s) => sum + (s.second - meanX) ** 2, 0);
  const span = measured[n - 1].second - measured[0].second;
  const bytesPerMinute = slope * 60;
  return { bytesPerMinute, growthBytes: slope * span, flat: bytesPerMinute < FLAT_BYTES_PER_MINUTE };
}

function report(result, options, redisUrl) {
  if (options.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
  console.log(environmentHeader());
  console.log(`Sample app with CACHE_URL=${redisUrl}; ${CONNECTIONS} connections at a fixed ${options.rate} req/s.\n`);
  printTable(
    `Soak: ${result.seconds} s`,
    ['requests', 'req/s', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    [
      [
        result.requests,
        result.achievedRate.toFixed(0),
        result.errors,
        result.latencyMs.p50,
        result.latencyMs.p90,
        result.latencyMs.p99,
        result.latencyMs.max,
      ],
    ],
  );
  printTable(
    'Memory of the app (heap after a full GC)',
    ['second', 'heap MB', 'rss MB'],
    result.memory.map((sample) => [
      sample.afterLoad ? `${sample.second.toFixed(0)} (after the load)` : sample.second.toFixed(0),
      mb(sample.heapUsed),
      mb(sample.rss),
    ]),
  );
  const { heap } = result;
  console.log(
    `Heap trend after warm-up: ${mb(heap.bytesPerMinute)} MB/min, ${mb(heap.growthBytes)} MB over the measured part ` +
      `(flat: under ${mb(FLAT_BYTES_PER_MINUTE)} MB/min) — ${heap.flat ? 'flat' : 'GROWING'}.`,
  );
  console.log(`Errors: ${result.errors} — ${result.errors === 0 ? 'none' : 'FAILED'}.`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const result = await run(process.argv.slice(2));
if (result.errors > 0 || !result.heap.flat) process.exitCode = 1;
