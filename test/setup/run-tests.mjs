// The test command (`npm test`): starts the real servers the tests need on free loopback ports, runs
// Jest in its ESM mode with their addresses in the environment, stops every server it started
// (also on Jest failure, Ctrl-C or SIGTERM), and exits with Jest's status.
//
//   npm test                        every test
//   npm test -- test/contract       arguments go to Jest
//
// Environment it reads:
//   NESTJS_CACHES_NO_SERVERS=1      start no server and install nothing: a quick run of the tests
//                                   that need no server (the others fail, naming what is missing)
//   REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (with REDIS_SENTINEL_NAME), MEMCACHED_SERVERS,
//   POSTGRES_URL                    already set: that server is yours, and none is started for it
//   REDIS_SERVER_BIN, MEMCACHED_BIN, POSTGRES_BIN_DIR
//                                   the programs to use (default: PATH, /usr/lib/postgresql/*/bin)
//
// What Jest receives: REDIS_URL=redis://127.0.0.1:P, REDIS_CLUSTER_NODES=127.0.0.1:A,127.0.0.1:B,
// 127.0.0.1:C (3 masters), REDIS_SENTINELS=127.0.0.1:S with REDIS_SENTINEL_NAME=mymaster (one sentinel
// watching a master and its replica), MEMCACHED_SERVERS=127.0.0.1:M1,127.0.0.1:M2,
// POSTGRES_URL=postgres://postgres@127.0.0.1:P/nestjs_caches_test (trust auth), and REDIS_SERVER_BIN,
// MEMCACHED_BIN, POSTGRES_BIN_DIR for tests that stop and start servers of their own.
//
// Missing programs are installed from Debian's packages when running as root; otherwise it stops at
// once with the apt-get line to run. Data and logs live in $TMPDIR/nestjs-caches-servers-<pid>,
// removed at the end. Its last line is `N passed, N failed[, N skipped]`, for CI's log reader.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureBinaries } from './binaries.mjs';
import { POSTGRES_DATABASE, TestServers } from './servers.mjs';

const jestBin = createRequire(import.meta.url)
  .resolve('jest/package.json')
  .replace(/package\.json$/, 'bin/jest.js');
const jestArgs = process.argv.slice(2);
const noServers = process.env.NESTJS_CACHES_NO_SERVERS === '1';
const runDir = join(tmpdir(), `nestjs-caches-servers-${process.pid}`);

let servers = null;
let jest = null;
let receivedSignal = null;
let stopping = null;

/** Stops the servers and removes the run folder, once, whoever asks first. */
function stopEverything() {
  stopping ??= (async () => {
    await servers?.stopAll();
    rmSync(runDir, { recursive: true, force: true });
  })();
  return stopping;
}

function exitCodeForSignal(signal) {
  return 128 + (constants.signals[signal] ?? 1);
}

// While Jest runs, a signal is passed on to it and the usual path below stops the servers once it
// has exited; before or after, we stop the servers and exit here.
function onSignal(signal) {
  if (jest && jest.exitCode === null && jest.signalCode === null) {
    console.error(`\nservers: ${signal}, stopping Jest, then the servers`);
    jest.kill(signal);
    setTimeout(() => jest.kill('SIGKILL'), 10_000).unref();
    return;
  }
  if (receivedSignal) return;
  receivedSignal = signal;
  console.error(`\nservers: ${signal}, stopping the servers`);
  stopEverything().finally(() => process.exit(exitCodeForSignal(signal)));
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => onSignal(signal));
// Last resort (an exception we did not expect): nothing can be awaited in an exit handler.
process.on('exit', () => {
  servers?.killAllNow();
  rmSync(runDir, { recursive: true, force: true });
});

/** Starts, in parallel, every server whose address the caller did not give; returns Jest's extra env. */
async function startServers() {
  const given = (variable) => Boolean(process.env[variable]);
  const wanted = {
    redis: !given('REDIS_URL'),
    cluster: !given('REDIS_CLUSTER_NODES'),
    sentinel: !given('REDIS_SENTINELS'),
    memcached: !given('MEMCACHED_SERVERS'),
    postgres: !given('POSTGRES_URL'),
  };
  // The redis and memcached programs are always needed: fault tests stop and start servers of their own.
  // Chromium is no server, but the browser test needs it and it comes from the same apt line.
  const needed = ['redis-server', 'redis-cli', 'memcached', 'chromium', ...(wanted.postgres ? ['postgres'] : [])];
  const bins = ensureBinaries(needed);
  servers = new TestServers(runDir, bins);

  const env = { REDIS_SERVER_BIN: bins['redis-server'], MEMCACHED_BIN: bins.memcached };
  if (bins.postgres) env.POSTGRES_BIN_DIR = bins.postgres;
  const startedAt = performance.now();
  const seconds = () => `${((performance.now() - startedAt) / 1000).toFixed(1)} s`;
  const report = (line) => console.log(`servers: ${line}`);
  const reuse = (what, variable) => report(`${what}: using ${variable}=${process.env[variable]}`);

  const tasks = [];
  if (wanted.redis) {
    tasks.push(
      servers.startRedis().then((port) => {
        env.REDIS_URL = `redis://127.0.0.1:${port}`;
        report(`redis-server ${env.REDIS_URL} (${seconds()})`);
      }),
    );
  } else reuse('redis', 'REDIS_URL');
  if (wanted.cluster) {
    tasks.push(
      servers.startRedisCluster().then((ports) => {
        env.REDIS_CLUSTER_NODES = ports.map((port) => `127.0.0.1:${port}`).join(',');
        report(`redis cluster (3 masters) ${env.REDIS_CLUSTER_NODES} (${seconds()})`);
      }),
    );
  } else reuse('redis cluster', 'REDIS_CLUSTER_NODES');
  if (wanted.sentinel) {
    tasks.push(
      servers.startRedisSentinel().then(({ name, masterPort, replicaPort, sentinelPort }) => {
        env.REDIS_SENTINELS = `127.0.0.1:${sentinelPort}`;
        env.REDIS_SENTINEL_NAME = name;
        report(
          `redis sentinel ${env.REDIS_SENTINELS} watching ${name} (master ${masterPort}, replica ${replicaPort}) (${seconds()})`,
        );
      }),
    );
  } else reuse('redis sentinel', 'REDIS_SENTINELS');
  if (wanted.memcached) {
    tasks.push(
      Promise.all([servers.startMemcached(1), servers.startMemcached(2)]).then((ports) => {
        env.MEMCACHED_SERVERS = ports.map((port) => `127.0.0.1:${port}`).join(',');
        report(`memcached x2 ${env.MEMCACHED_SERVERS} (${seconds()})`);
      }),
    );
  } else reuse('memcached', 'MEMCACHED_SERVERS');
  if (wanted.postgres) {
    tasks.push(
      servers.startPostgres().then((port) => {
        env.POSTGRES_URL = `postgres://postgres@127.0.0.1:${port}/${POSTGRES_DATABASE}`;
        report(`postgres ${env.POSTGRES_URL} (${seconds()})`);
      }),
    );
  } else reuse('postgres', 'POSTGRES_URL');

  const failures = (await Promise.allSettled(tasks)).filter((r) => r.status === 'rejected');
  if (failures.length > 0) throw new Error(failures.map((f) => f.reason?.message ?? f.reason).join('\n\n'));
  if (tasks.length > 0) report(`all ready in ${seconds()}, logs in ${runDir}`);
  return env;
}

/** The value of Jest's --outputFile in the user's arguments, if any. */
function userOutputFile(args) {
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith('--outputFile=')) return resolve(args[i].slice('--outputFile='.length));
    if (args[i] === '--outputFile' && args[i + 1]) return resolve(args[i + 1]);
  }
  return null;
}

/** Runs Jest with `--json` results written to a file we read for the summary; resolves with its exit status. */
async function runJest(env, extraArgs) {
  jest = spawn(
    process.execPath,
    ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning', jestBin, ...jestArgs, ...extraArgs],
    {
      stdio: 'inherit',
      env: { ...process.env, ...env },
    },
  );
  servers?.stopOnRunnerDeath(jest, 'SIGINT');
  return new Promise((done) => {
    jest.once('error', (err) => {
      console.error(`could not start Jest: ${err.message}`);
      done(1);
    });
    jest.once('exit', (code, signal) => done(code ?? exitCodeForSignal(signal)));
  });
}

/** `N passed, N failed[, N skipped]`; a suite that failed to run at all counts as one failure. */
function summaryLine(resultsFile) {
  let results;
  try {
    results = JSON.parse(readFileSync(resultsFile, 'utf8'));
  } catch {
    return null; // Jest stopped before writing results (bad config, killed): its exit status says enough.
  }
  const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
  const skipped = results.numPendingTests + results.numTodoTests;
  return `${results.numPassedTests} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}

async function main() {
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });

  let env = {};
  if (!noServers) {
    try {
      env = await startServers();
    } catch (err) {
      if (receivedSignal) return; // the signal handler is already stopping and exiting
      console.error(`\nservers: ${err.message}`);
      await stopEverything();
      process.exit(1);
    }
  }
  if (receivedSignal) return;

  const ownOutputFile = userOutputFile(jestArgs);
  const resultsFile = ownOutputFile ?? join(runDir, 'jest-results.json');
  const extraArgs = [
    ...(jestArgs.includes('--json') ? [] : ['--json']),
    ...(ownOutputFile ? [] : [`--outputFile=${resultsFile}`]),
  ];
  const status = await runJest(env, extraArgs);
  const summary = summaryLine(resultsFile);
  await stopEverything();
  if (summary) console.log(summary);
  process.exit(status);
}

await main();
