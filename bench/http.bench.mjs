// `npm run bench -- http`: page caching over real HTTP on both adapters. Each server runs in its
// own process pinned to core 0 (bench/http-app.mjs, varnishd, nginx); this process and the load
// generator (wrk) pin themselves to core 1, so the server never shares its core with the load.
// Rows, all in one run: node:http writing the same bytes (the floor any server pays), Varnish and
// nginx proxy_cache serving hits of it, a route returning a constant 10 kB object (the bare
// framework), the same object behind 5 ms of work uncached, @nestjs/cache-manager's
// CacheInterceptor on it, @CachePage on it, and the per-site cache on it (also in an app with one
// global middleware); the bypass pairs (the 5 ms route answering Cache-Control: private, and
// requests carrying a Cookie, each without and with @CachePage); then 100 concurrent requests at
// a cold key of each page route, counting handler runs.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chartPath, formatOps, formatRatio, formatSpread, isMain, printTable, writeBarChart } from './harness.mjs';

// Not in ESLint's globals: taken from globalThis so the file lints as is.
const { fetch } = globalThis;

const ADAPTERS = ['express', 'fastify'];
const SERVER_CORE = 0;
const LOAD_CORE = 1;
const CONNECTIONS = 50;
const WARMUP_SECONDS = 1;
const DURATION_SECONDS = 2;
// Rows run round-robin, each round starting one row later, so a burst of outside load spoils one
// slice of several rows rather than one whole row; each row reports its best round.
const ROUNDS = 5;
const COLD_REQUESTS = 100;
// Bursts per cached route: how many of a burst arrive before the first store varies from burst to burst.
const COLD_BURSTS = 3;
const TARGETS = {
  cachePageVsConstant: 1.3,
  cachePageVsInterceptor: 1.6,
  siteVsConstant: 1.5,
  hitVsRaw: 0.8,
  bypassVsUncached: 0.9,
  coldRuns: 1,
};
const COOKIE = { cookie: 'session=abc123' };
const VARNISHD = '/usr/sbin/varnishd';
const NGINX = '/usr/sbin/nginx';

// The unit of /proc/<pid>/stat times.
const CLOCK_TICKS_PER_SEC = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

const appScript = fileURLToPath(new URL('./http-app.mjs', import.meta.url));

/**
 * The rows; `counter` names the handler-run counter of bench/http-app.mjs, `headers` go with
 * every request, `base` names the row a target compares it with (see targetChecks).
 */
const ROUTES = [
  { id: 'raw', label: 'node:http, same bytes (no Nest)', app: 'raw', path: '/', cached: false },
  { id: 'varnish', label: 'Varnish hit (of node:http)', app: 'varnish', path: '/', cached: true },
  { id: 'nginx', label: 'nginx proxy_cache hit (of node:http)', app: 'nginx', path: '/', cached: true },
  { id: 'constant', label: 'constant 10 kB object', app: 'routes', path: '/constant', cached: false },
  { id: 'page', label: 'page, uncached (5 ms work)', app: 'routes', path: '/page', cached: false, counter: 'page' },
  {
    id: 'interceptor',
    label: 'page, CacheInterceptor hit',
    app: 'routes',
    path: '/page-interceptor',
    cached: true,
    counter: 'pageInterceptor',
  },
  {
    id: 'cachePage',
    label: 'page, @CachePage(60) hit',
    app: 'routes',
    path: '/page-cached',
    cached: true,
    counter: 'pageCached',
  },
  { id: 'site', label: 'page, per-site cache hit', app: 'site', path: '/page', cached: true, counter: 'page' },
  {
    id: 'cachePageMw',
    label: '@CachePage hit, 1 global middleware',
    app: 'routes-mw',
    path: '/page-cached',
    cached: true,
  },
  { id: 'siteMw', label: 'per-site hit, 1 global middleware', app: 'site-mw', path: '/page', cached: true },
  { id: 'private', label: 'private page (5 ms), no @CachePage', app: 'routes', path: '/private', cached: false },
  {
    id: 'privateCached',
    label: 'private page (5 ms), @CachePage',
    app: 'routes',
    path: '/private-cached',
    cached: false,
    base: 'private',
  },
  { id: 'cookie', label: 'page with Cookie, no @CachePage', app: 'routes', path: '/page', headers: COOKIE },
  {
    id: 'cookieCached',
    label: 'page with Cookie, @CachePage',
    app: 'routes',
    path: '/page-cached',
    headers: COOKIE,
    base: 'cookie',
  },
];

const NEST_MODES = ['routes', 'site', 'routes-mw', 'site-mw'];

export async function run() {
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not installed: apt-get install wrk.');
  const pinning = pinLoadGenerator();
  const servers = [];
  const notes = [];
  try {
    const raw = await AppProcess.start('node', 'raw', pinning.pinned);
    servers.push(raw);
    for (const proxy of [Varnish, Nginx]) {
      const started = await proxy.start(raw.port, pinning.pinned).catch((error) => error);
      if (started instanceof Error) notes.push(`${proxy.name}: skipped, ${started.message}`);
      else servers.push(started);
    }
    for (const adapter of ADAPTERS) {
      for (const mode of NEST_MODES) servers.push(await AppProcess.start(adapter, mode, pinning.pinned));
    }
    const rows = [];
    for (const server of servers) {
      for (const route of ROUTES.filter((candidate) => candidate.app === server.mode)) {
        const row = { adapter: server.adapter, route, server, slices: [] };
        const skipped = await whyUnavailable(row);
        if (skipped) notes.push(`${server.adapter} ${route.label}: skipped, ${skipped}.`);
        else rows.push(row);
      }
    }

    console.log(
      `\n== http: wrk, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION_SECONDS} s per row, ` +
        `interleaved; each row's best round shown (spread: half the interquartile range of the rounds); ` +
        `targets: the median of the per-round ratios ==`,
    );
    console.log(pinning.note);
    console.log(
      'Every route returns the same ~10 kB JSON object; "page" routes first wait 5 ms (simulated work). ' +
        'Cached rows are verified to answer X-Cache: HIT before and after every slice. Varnish and nginx ' +
        'run one worker on the server core, caching the node:http row.',
    );
    console.log(
      'server µs/req: CPU time (user + system) of the server process per request; it moves much less ' +
        'than req/s when other processes share the server core. core: the share of its core the server ' +
        'used (near 100% when it, not the load generator, is the bottleneck).',
    );
    for (const note of notes) console.log(note);

    for (const row of rows) await warmUp(row);
    for (let round = 0; round < ROUNDS; round++) {
      for (let step = 0; step < rows.length; step++) {
        const row = rows[(round + step) % rows.length];
        row.slices.push(await load(row, DURATION_SECONDS));
        if (row.route.cached) await expectHit(row);
      }
    }
    for (let burst = 0; burst < COLD_BURSTS; burst++) {
      for (const row of rows.filter((candidate) => candidate.route.counter)) {
        (row.coldRuns ??= []).push(await coldStampede(row, `${Date.now()}-${burst}`));
      }
    }

    // The node:http and proxy rows belong to no adapter: the same slices are shown in both tables.
    for (const adapter of ADAPTERS) {
      const shown = rows.filter((row) => row.adapter === adapter || !ADAPTERS.includes(row.adapter));
      report(adapter, shown);
    }
    chart(rows);
  } finally {
    await Promise.all(servers.map((server) => server.close()));
  }
}

/** Pins this process (every thread: -a) to the load core; the servers are started on the other. */
function pinLoadGenerator() {
  if (cpus().length < 2) return { pinned: false, note: 'One core only: server and load generator share it.' };
  const result = spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], {
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    const reason = result.error?.message ?? result.stderr.trim();
    return { pinned: false, note: `Not pinned (taskset failed: ${reason}); server and load share the cores.` };
  }
  return {
    pinned: true,
    note: `Each server pinned to core ${SERVER_CORE} (taskset -c ${SERVER_CORE}); wrk (one thread) to core ${LOAD_CORE}.`,
  };
}

/** One bench/http-app.mjs child, spoken to over IPC. */
class AppProcess {
  static async start(adapter, mode, pinned) {
    const command = pinned ? 'taskset' : process.execPath;
    const args = [appScript, adapter, mode];
    const child = spawn(command, pinned ? ['-c', String(SERVER_CORE), process.execPath, ...args] : args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`The ${adapter} ${mode} app exited (code ${code}) before it was ready.`);
    });
    const [ready] = await Promise.race([once(child, 'message'), exited]);
    exited.catch(() => {}); // once ready, an exit is reported by the next request failing
    return new AppProcess(adapter, mode, child, ready);
  }

  constructor(adapter, mode, child, ready) {
    Object.assign(this, { adapter, mode, child, port: ready.port, features: ready.features });
  }

  /**
   * CPU time the server has used (user + system, all threads), from /proc: unlike req/s, it hardly
   * moves when other processes take turns on the server's core. NaN where there is no /proc.
   */
  cpuSeconds() {
    try {
      // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
    } catch {
      return NaN;
    }
  }

  /** How many times each handler has run so far. */
  async counts() {
    this.child.send('counts');
    const [message] = await once(this.child, 'message');
    return message.counts;
  }

  async close() {
    if (this.child.exitCode !== null || !this.child.connected) return;
    this.child.send('close');
    const timer = setTimeout(() => this.child.kill(), 5000);
    await once(this.child, 'exit');
    clearTimeout(timer);
  }
}

/** A cache server in front of the node:http row, run as a child pinned to the server core. */
class ProxyProcess {
  static async launch(name, command, args, port, pinned, directory) {
    const child = spawn(pinned ? 'taskset' : command, pinned ? ['-c', String(SERVER_CORE), command, ...args] : args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const proxy = new ProxyProcess(name, child, port, directory);
    for (let attempt = 0; attempt < 100; attempt++) {
      if (child.exitCode !== null) break;
      try {
        await get(port, '/');
        return proxy;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await proxy.close();
    throw new Error(`${name} did not answer on port ${port}: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
  }

  constructor(name, child, port, directory) {
    Object.assign(this, { adapter: name, mode: name, child, port, directory, features: {} });
  }

  /** Not read: varnishd and nginx run more than one process, or threads this bench does not see. */
  cpuSeconds() {
    return NaN;
  }

  async close() {
    if (this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      await once(this.child, 'exit');
    }
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/** Varnish with one thread pool; hits say X-Cache: HIT as the page cache's do. */
const Varnish = {
  name: 'Varnish',
  async start(backendPort, pinned) {
    if (spawnSync(VARNISHD, ['-V']).error) throw new Error(`${VARNISHD} is not installed (apt-get install varnish).`);
    const directory = mkdtempSync(join(tmpdir(), 'http-bench-varnish-'));
    const vcl = join(directory, 'default.vcl');
    writeFileSync(
      vcl,
      `vcl 4.1;\nbackend default { .host = "127.0.0.1"; .port = "${backendPort}"; }\n` +
        'sub vcl_backend_response { set beresp.ttl = 60s; }\n' +
        'sub vcl_deliver { if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } ' +
        'else { set resp.http.X-Cache = "MISS"; } }\n',
    );
    const port = await freePort();
    const args = ['-F', '-j', 'none', '-n', directory, '-f', vcl, '-a', `127.0.0.1:${port}`, '-s', 'malloc,64m'];
    return ProxyProcess.launch('varnish', VARNISHD, [...args, '-p', 'thread_pools=1'], port, pinned, directory);
  },
};

/** nginx, one worker, no master process, proxy_cache on its own directory. */
const Nginx = {
  name: 'nginx',
  async start(backendPort, pinned) {
    if (spawnSync(NGINX, ['-v']).error) throw new Error(`${NGINX} is not installed (apt-get install nginx-light).`);
    const directory = mkdtempSync(join(tmpdir(), 'http-bench-nginx-'));
    const port = await freePort();
    const config = join(directory, 'nginx.conf');
    writeFileSync(
      config,
      `daemon off; master_process off; worker_processes 1; pid ${directory}/nginx.pid;\n` +
        `error_log ${directory}/error.log;\nevents { worker_connections 1024; }\n` +
        `http { access_log off; client_body_temp_path ${directory}/body; proxy_temp_path ${directory}/proxy;\n` +
        `  proxy_cache_path ${directory}/cache keys_zone=pages:1m;\n` +
        `  upstream app { server 127.0.0.1:${backendPort}; keepalive 16; }\n` +
        `  server { listen 127.0.0.1:${port}; location / { proxy_pass http://app; proxy_http_version 1.1;\n` +
        `    proxy_set_header Connection ""; proxy_cache pages; proxy_cache_valid 200 60s;\n` +
        `    add_header X-Cache $upstream_cache_status; } } }\n`,
    );
    return ProxyProcess.launch('nginx', NGINX, ['-p', directory, '-c', config], port, pinned, directory);
  },
};

/** A port nothing listens on right now. */
async function freePort() {
  const { createServer } = await import('node:net');
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Why a row cannot run against this build of the library, or undefined if it can. */
async function whyUnavailable({ route, server }) {
  if (route.path.endsWith('-cached') && !server.features.cachePage) return 'this build does not export CachePage';
  if (route.app.startsWith('site')) {
    const response = await get(server.port, route.path);
    if (!response.headers.get('x-cache')) return 'no X-Cache header: this build has no per-site cache';
  }
  return undefined;
}

async function get(port, path, headers = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}.`);
  return response;
}

/**
 * Fails the bench if a cached row is not a hit: a row of misses would be measured as hits. One
 * miss is forgiven, since the 60 s entry may just have expired (the bench runs longer than that).
 */
async function expectHit({ adapter, route, server }) {
  const answer = async () => (await get(server.port, route.path)).headers.get('x-cache');
  let xCache = await answer();
  if (xCache !== 'HIT') xCache = await answer();
  if (xCache !== 'HIT') {
    throw new Error(`${adapter} ${route.path} answered X-Cache: ${xCache} after warm-up; the row needs hits.`);
  }
}

async function warmUp(row) {
  await get(row.server.port, row.route.path, row.route.headers); // a miss, which fills the cache on cached routes
  if (row.route.cached) await expectHit(row);
  await load(row, WARMUP_SECONDS);
}

/** wrk (one thread) against the row's route; throws on any error or non-2xx answer. */
async function load({ adapter, route, server }, seconds) {
  const cpuBefore = server.cpuSeconds();
  const headers = Object.entries(route.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  const url = `http://127.0.0.1:${server.port}${route.path}`;
  // A 10 s timeout, as autocannon's: on a loaded machine a slice may stall for more than wrk's 2 s.
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '10s', '--latency', ...headers, url];
  const wrk = spawn('wrk', args);
  let output = '';
  wrk.stdout.on('data', (chunk) => (output += chunk));
  const [code] = await once(wrk, 'exit');
  const cpuSeconds = server.cpuSeconds() - cpuBefore;
  const total = /(\d+) requests in ([\d.]+)(m?s)/.exec(output);
  if (code !== 0 || total === null)
    throw new Error(`wrk failed on ${adapter} ${route.path} (exit ${code}):\n${output}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  if (errors + non2xx > 0) {
    throw new Error(`${adapter} ${route.path}: ${errors} socket errors, ${non2xx} non-2xx answers.\n${output}`);
  }
  const requests = Number(total[1]);
  const duration = Number(total[2]) / (total[3] === 'ms' ? 1000 : 1);
  return {
    requestsPerSec: requests / duration,
    p50: latencyMs(output, 50),
    p99: latencyMs(output, 99),
    cpuMicrosPerRequest: (cpuSeconds * 1e6) / requests,
    coreShare: cpuSeconds / duration,
  };
}

/** A percentile of wrk's latency distribution, in ms. */
function latencyMs(output, percentile) {
  const match = new RegExp(`\\s${percentile}%\\s+([\\d.]+)(us|ms|s)`).exec(output);
  if (match === null) return NaN;
  const value = Number(match[1]);
  return Number((match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value).toFixed(2));
}

/**
 * Opens COLD_REQUESTS connections and has the server accept them all (one request each to a route
 * that does not exist), then writes the same request for a key never seen before on all of them at
 * once; returns how many times the handler ran to answer them.
 */
async function coldStampede({ route, server }, coldKey) {
  const sockets = await Promise.all(
    Array.from({ length: COLD_REQUESTS }, async () => {
      const socket = connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      return socket;
    }),
  );
  try {
    const readers = sockets.map(responseReader);
    const request = (path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`;
    for (const socket of sockets) socket.write(request('/no-such-route'));
    await Promise.all(readers.map((read) => read()));

    const path = `${route.path}?cold=${coldKey}`;
    const before = (await server.counts())[route.counter];
    const responses = readers.map((read) => read());
    for (const socket of sockets) socket.write(request(path));
    for (const head of await Promise.all(responses)) {
      if (!head.startsWith('HTTP/1.1 200')) throw new Error(`Cold GET ${path} answered ${head.split('\r\n')[0]}.`);
    }
    return (await server.counts())[route.counter] - before;
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

/**
 * Reads HTTP/1.1 responses off a raw socket, one per call of the returned function, which resolves
 * to the status line and headers once the whole body is in (Content-Length or chunked).
 */
function responseReader(socket) {
  let buffered = Buffer.alloc(0);
  let waiting;
  const settle = () => {
    const headEnd = buffered.indexOf('\r\n\r\n');
    if (!waiting || headEnd < 0) return;
    const head = buffered.subarray(0, headEnd).toString('latin1');
    const end = responseEnd(head, headEnd + 4, buffered);
    if (end === undefined) return waiting.reject(new Error(`A response without a length: ${head}`));
    if (end < 0 || buffered.length < end) return; // more to come
    buffered = buffered.subarray(end);
    const { resolve } = waiting;
    waiting = undefined;
    resolve(head);
  };
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    settle();
  });
  socket.on('error', (error) => waiting?.reject(error));
  return () =>
    new Promise((resolve, reject) => {
      waiting = { resolve, reject };
      settle();
    });
}

/** Where the response whose body starts at bodyStart ends: -1 if not known yet, undefined if it cannot be told. */
function responseEnd(head, bodyStart, buffered) {
  const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
  if (length !== undefined) return bodyStart + Number(length);
  if (!/\r\ntransfer-encoding: *chunked/i.test(head)) return undefined;
  const LAST_CHUNK = '0\r\n\r\n';
  const at = buffered.indexOf(`\r\n${LAST_CHUNK}`, bodyStart - 2);
  return at < 0 ? -1 : at + 2 + LAST_CHUNK.length;
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

/**
 * A row's best round: on a shared machine, other work only ever takes CPU from the server or the
 * load generator, so the fastest round is the least disturbed one. Every column comes from that
 * round, so each line describes one real slice; spread shows how much the rounds disagreed.
 */
function summarize(row) {
  const rates = row.slices.map((slice) => slice.requestsPerSec);
  const best = row.slices.reduce((a, b) => (b.requestsPerSec > a.requestsPerSec ? b : a));
  const median = quantile(rates, 0.5);
  return { ...best, slices: row.slices, spread: (quantile(rates, 0.75) - quantile(rates, 0.25)) / 2 / median };
}

/**
 * The median over the rounds of row / base req/s, each round's two slices measured in the same
 * pass over the rows: outside load that spoils a round spoils both sides of its ratio.
 */
function ratioOf(row, base) {
  return quantile(
    row.slices.map((slice, round) => slice.requestsPerSec / base.slices[round].requestsPerSec),
    0.5,
  );
}

/** The targets of the issues, for the rows this run measured; pass or fail is decided on req/s. */
function targetChecks(stats) {
  const constant = stats.get('constant');
  const interceptor = stats.get('interceptor');
  const raw = stats.get('raw');
  const checks = [];
  const cachePage = stats.get('cachePage');
  if (cachePage) {
    checks.push(
      ratioCheck('cachePage', '@CachePage hit vs node:http', cachePage, raw, TARGETS.hitVsRaw),
      ratioCheck('cachePage', '@CachePage hit vs constant', cachePage, constant, TARGETS.cachePageVsConstant),
      ratioCheck(
        'cachePage',
        '@CachePage hit vs CacheInterceptor hit',
        cachePage,
        interceptor,
        TARGETS.cachePageVsInterceptor,
      ),
      coldCheck('cachePage', '@CachePage', cachePage.coldRuns),
    );
  }
  const site = stats.get('site');
  if (site) {
    checks.push(
      ratioCheck('site', 'per-site hit vs node:http', site, raw, TARGETS.hitVsRaw),
      ratioCheck('site', 'per-site hit vs constant', site, constant, TARGETS.siteVsConstant),
      coldCheck('site', 'per-site cache', site.coldRuns),
    );
  }
  for (const [id, label] of [
    ['privateCached', 'private page through @CachePage vs without'],
    ['cookieCached', 'request with Cookie through @CachePage vs without'],
  ]) {
    const row = stats.get(id);
    if (row) checks.push(ratioCheck(id, label, row, stats.get(row.base), TARGETS.bypassVsUncached));
  }
  return checks;
}

/** The same ratio by server CPU per request (best rounds) follows, as a reading less moved by other load. */
function ratioCheck(id, label, row, base, target) {
  const ratio = ratioOf(row, base);
  const byCpu = base.cpuMicrosPerRequest / row.cpuMicrosPerRequest;
  return {
    id,
    label: `${label} >= ${target}x`,
    value: formatRatio(ratio),
    met: ratio >= target,
    note: Number.isNaN(byCpu) ? '' : `  (by server CPU per request: ${formatRatio(byCpu)})`,
  };
}

const coldCheck = (id, label, runs) => ({
  id,
  label: `${label}: ${COLD_REQUESTS} concurrent cold requests run the handler once`,
  value: `${formatRuns(runs)} run${Math.max(...runs) === 1 ? '' : 's'}`,
  met: Math.max(...runs) <= TARGETS.coldRuns,
});

/** Handler runs over the bursts: one number when every burst ran it as often, else the range. */
function formatRuns(runs) {
  const [least, most] = [Math.min(...runs), Math.max(...runs)];
  return least === most ? String(least) : `${least}-${most}`;
}

function report(adapter, rows) {
  const stats = new Map(
    rows.map((row) => [row.route.id, { ...summarize(row), coldRuns: row.coldRuns, base: row.route.base }]),
  );
  const [raw, constant, interceptor] = ['raw', 'constant', 'interceptor'].map((id) => stats.get(id));
  const checks = targetChecks(stats);
  const tableRows = ROUTES.filter((route) => stats.has(route.id)).map((route) => {
    const row = stats.get(route.id);
    const { requestsPerSec, spread, p50, p99, cpuMicrosPerRequest, coreShare, coldRuns } = row;
    const own = checks.filter((check) => check.id === route.id);
    return [
      route.label,
      formatOps(requestsPerSec),
      formatSpread(spread),
      p50,
      p99,
      Number.isNaN(cpuMicrosPerRequest) ? '-' : cpuMicrosPerRequest.toFixed(0),
      Number.isNaN(coreShare) ? '-' : `${Math.round(coreShare * 100)}%`,
      formatRatio(ratioOf(row, raw)),
      formatRatio(ratioOf(row, constant)),
      formatRatio(ratioOf(row, interceptor)),
      coldRuns ? formatRuns(coldRuns) : '-',
      own.length === 0 ? '-' : own.every((check) => check.met) ? 'yes' : 'no',
    ];
  });
  printTable(
    `${adapter} (@nestjs/platform-${adapter})`,
    [
      'route',
      'req/s',
      'spread',
      'p50 ms',
      'p99 ms',
      'server µs/req',
      'core',
      'vs node:http',
      'vs constant',
      'vs CacheInterceptor',
      'cold runs',
      'target met',
    ],
    tableRows,
  );
  console.log("vs …: the median over the rounds of the two rows' req/s in the same round.");
  console.log(
    `cold runs: handler runs for ${COLD_REQUESTS} concurrent requests at a key never requested before ` +
      `(${COLD_BURSTS} bursts; a range when they differ).`,
  );
  if (checks.length === 0) return;
  console.log(`Targets (${adapter}):`);
  const width = Math.max(...checks.map((check) => check.label.length));
  for (const check of checks) {
    const verdict = check.met ? 'PASS' : 'FAIL';
    console.log(`  ${check.label.padEnd(width)}  ${check.value.padStart(11)}  ${verdict}${check.note ?? ''}`);
  }
}

/** req/s of each adapter's rows (best rounds, as in the tables), against the constant route. */
function chart(rows) {
  const raw = rows.find((row) => row.route.id === 'raw');
  const bars = rows
    .filter((row) => ADAPTERS.includes(row.adapter))
    .map((row) => ({
      group: `${row.adapter} (@nestjs/platform-${row.adapter})`,
      label: row.route.label,
      value: summarize(row).requestsPerSec,
      baseline: row.route.id === 'constant',
    }));
  writeBarChart(chartPath('http'), {
    title: `HTTP: the same ~10 kB JSON, ${CONNECTIONS} connections, req/s (higher is faster)`,
    unit: 'req/s',
    bars,
    note:
      `Each bar is the row's best of ${ROUNDS} interleaved rounds of ${DURATION_SECONDS} s, as in the tables; ratios are to ` +
      "the adapter's constant route (grey) in the same run; each adapter has its own axis from zero. Server pinned to one core, " +
      `wrk to the other. Not drawn: node:http writing the same bytes, ${raw ? formatOps(summarize(raw).requestsPerSec) : '-'} req/s (the floor any server pays), and Varnish and nginx (in the tables).`,
  });
}

if (isMain(import.meta.url)) await run();
