// Starts the real servers the tests talk to (redis, a 3-master redis cluster, a redis master with a
// replica and a sentinel, memcached, PostgreSQL) on free loopback ports, with all data and logs in one run folder, and stops every one of them.
//
// Each server runs in its own process group (detached), so a Ctrl-C in the terminal reaches Jest
// but not the servers: the runner stops them itself, in order, after Jest has finished.
// Its output goes to a log file, never to our stdout, so a log reader waiting for our output to
// end is not held open by a server. A small watchdog shell stops them too if the runner is killed
// outright (SIGKILL), which no handler can catch.
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chownSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  freePort,
  memcachedVersion,
  pollUntil,
  postgresReady,
  redisClusterInfo,
  redisCommand,
  redisInfo,
  redisPing,
} from './net.mjs';

export const POSTGRES_DATABASE = 'nestjs_caches_test';

const READY_TIMEOUT_MS = 20_000;
const POSTGRES_READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;
/** initdb and psql: a helper that takes longer is stuck. */
const HELPER_TIMEOUT_MS = 60_000;
/** Sentinel timings: a dead master is noticed in 1 s, and a failover takes 2-3 s, not a minute. */
const SENTINEL_DOWN_AFTER_MS = 1000;
const SENTINEL_FAILOVER_TIMEOUT_MS = 3000;
/** A port we probed can be taken before the server binds it; a server that exits early gets a new one. */
const START_ATTEMPTS = 3;

const isRoot = process.getuid?.() === 0;

function logTail(logFile, lines = 20) {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A start failure that names the server and its log, with the log's end (the folder is removed after). */
class ServerStartError extends Error {
  constructor(name, logFile, reason) {
    super(`${name} did not start: ${reason}\nlog ${logFile} ends with:\n${logTail(logFile)}`);
  }
}

/** uid and gid of a system user, for running PostgreSQL, which refuses to run as root. */
function systemUser(name) {
  const result = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  const fields = result.status === 0 ? result.stdout.trim().split(':') : [];
  if (fields.length < 4) {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no '${name}' user to run it as (Debian's postgresql package creates it)`,
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

export class TestServers {
  /** Started processes: { name, child, stopSignal, exited: Promise, exitedAlready }. */
  #processes = [];
  #closed = false;
  #watchdog = null;
  /** pid → signal, for the watchdog. */
  #watched = new Map();

  /** @param {string} dir the run folder (created by the caller); @param {object} bins from ensureBinaries */
  constructor(dir, bins) {
    this.dir = dir;
    this.bins = bins;
    this.pidFile = join(dir, 'server-pids');
  }

  /** One redis-server, no persistence. */
  async startRedis() {
    const dir = this.#folder('redis');
    const { ports } = await this.#startServer({
      name: 'redis-server',
      logFile: join(this.dir, 'redis.log'),
      command: this.bins['redis-server'],
      args: ([port]) => redisArgs(port, dir),
      ready: ([port]) => redisPing(port),
    });
    return ports[0];
  }

  /**
   * Three redis-server masters joined into a cluster, every slot covered. Joined with the commands
   * `redis-cli --cluster create` sends, less its one-second waits: about 2 s, the delay a new master
   * keeps before it reports cluster_state:ok, where redis-cli took 2 to 8 s.
   */
  async startRedisCluster() {
    const nodes = await Promise.all([1, 2, 3].map((n) => this.#startClusterNode(n)));
    const logFile = join(this.dir, 'redis-cluster-join.log');
    const command = async (port, line) => {
      appendFileSync(logFile, `127.0.0.1:${port}> ${line}\n`);
      appendFileSync(logFile, `${await redisCommand(port, line)}\n`);
    };
    try {
      const slotsPerNode = Math.ceil(16384 / nodes.length);
      for (const [i, { port }] of nodes.entries()) {
        // Distinct epochs up front, as redis-cli does, so no collision has to be settled later.
        await command(port, `CLUSTER SET-CONFIG-EPOCH ${i + 1}`);
        const last = Math.min(16383, (i + 1) * slotsPerNode - 1);
        await command(port, `CLUSTER ADDSLOTSRANGE ${i * slotsPerNode} ${last}`);
      }
      // Every pair meets directly: waiting for gossip to introduce them costs a second or more.
      for (const [i, from] of nodes.entries()) {
        for (const to of nodes.slice(i + 1))
          await command(from.port, `CLUSTER MEET 127.0.0.1 ${to.port} ${to.busPort}`);
      }
      await Promise.all(
        nodes.map(({ port }) =>
          pollUntil(
            async () => {
              const info = await redisClusterInfo(port);
              if (!info.includes('cluster_state:ok') || !info.includes('cluster_known_nodes:3')) {
                throw new Error(`node ${port}: ${info.replace(/\r\n/g, ' ').slice(0, 200)}`);
              }
            },
            { timeoutMs: READY_TIMEOUT_MS, intervalMs: 50, what: `redis cluster node ${port}` },
          ),
        ),
      );
    } catch (err) {
      throw new ServerStartError('redis cluster', logFile, err.message);
    }
    return nodes.map(({ port }) => port);
  }

  async #startClusterNode(n) {
    const dir = this.#folder(`redis-cluster-${n}`);
    const { ports } = await this.#startServer({
      name: `redis cluster node ${n}`,
      logFile: join(this.dir, `redis-cluster-${n}.log`),
      command: this.bins['redis-server'],
      portCount: 2,
      // cluster-port sets the bus port; its default (port + 10000) may be taken or past 65535.
      args: ([port, busPort]) => [...redisArgs(port, dir), ...clusterArgs(join(dir, `nodes-${port}.conf`), busPort)],
      ready: ([port]) => redisPing(port),
    });
    return { port: ports[0], busPort: ports[1] };
  }

  /**
   * A redis master, one replica of it and one sentinel watching them as `name` (quorum 1), ready once
   * the replica is in sync and the sentinel knows both. `stopMaster()` kills the master outright
   * (SIGKILL), after which the sentinel promotes the replica. `tag` tells groups apart in the run folder.
   *
   * @returns {Promise<{ name: string, masterPort: number, replicaPort: number, sentinelPort: number,
   *   stopMaster: () => Promise<void> }>}
   */
  async startRedisSentinel(tag = 'sentinel', name = 'mymaster') {
    const command = this.bins['redis-server'];
    const masterDir = this.#folder(`redis-${tag}-master`);
    const master = await this.#startServer({
      name: `redis ${tag} master`,
      logFile: join(this.dir, `redis-${tag}-master.log`),
      command,
      // Diskless sync waits 5 s by default for more replicas to join: there is only one.
      args: ([port]) => [...redisArgs(port, masterDir), '--repl-diskless-sync-delay', '0'],
      ready: ([port]) => redisPing(port),
    });
    const masterPort = master.ports[0];
    const replicaDir = this.#folder(`redis-${tag}-replica`);
    const replica = await this.#startServer({
      name: `redis ${tag} replica`,
      logFile: join(this.dir, `redis-${tag}-replica.log`),
      command,
      args: ([port]) => [...redisArgs(port, replicaDir), '--replicaof', '127.0.0.1', String(masterPort)],
      ready: async ([port]) => {
        const info = await redisInfo(port, 'replication');
        if (!info.includes('master_link_status:up')) throw new Error(`replica ${port} not in sync yet`);
      },
    });
    const sentinelDir = this.#folder(`redis-${tag}-sentinel`);
    // Sentinel rewrites its config file (what it learns, failovers), so it must be a file of its own.
    const confFile = join(sentinelDir, 'sentinel.conf');
    const sentinel = await this.#startServer({
      name: `redis ${tag} sentinel`,
      logFile: join(this.dir, `redis-${tag}-sentinel.log`),
      command,
      args: ([port]) => {
        writeFileSync(
          confFile,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${sentinelDir}`,
            `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
            `sentinel down-after-milliseconds ${name} ${SENTINEL_DOWN_AFTER_MS}`,
            `sentinel failover-timeout ${name} ${SENTINEL_FAILOVER_TIMEOUT_MS}`,
            '',
          ].join('\n'),
        );
        return [confFile, '--sentinel'];
      },
      // e.g. master0:name=mymaster,status=ok,address=127.0.0.1:P,slaves=1,sentinels=1
      ready: async ([port]) => {
        const info = await redisInfo(port, 'sentinel');
        if (!info.includes(`name=${name},status=ok,address=127.0.0.1:${masterPort},slaves=1`))
          throw new Error(`sentinel ${port} does not know the master and its replica yet: ${info.slice(-120)}`);
      },
    });
    return {
      name,
      masterPort,
      replicaPort: replica.ports[0],
      sentinelPort: sentinel.ports[0],
      stopMaster: async () => {
        if (master.proc.exitedAlready) return;
        killQuietly(master.proc.child.pid, 'SIGKILL');
        await master.proc.exited;
      },
    };
  }

  /** One memcached, TCP only. `n` tells instances apart in logs. */
  async startMemcached(n) {
    const { ports } = await this.#startServer({
      name: `memcached ${n}`,
      logFile: join(this.dir, `memcached-${n}.log`),
      command: this.bins.memcached,
      // memcached refuses to run as root unless told which user to become.
      args: ([port]) => [
        '-l',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        '0',
        '-m',
        '64',
        ...(isRoot ? ['-u', 'nobody'] : []),
      ],
      ready: ([port]) => memcachedVersion(port),
    });
    return ports[0];
  }

  /** A fresh PostgreSQL cluster with trust auth on loopback and the test database created. */
  async startPostgres() {
    const binDir = this.bins.postgres;
    const dir = this.#folder('postgres');
    const dataDir = join(dir, 'data');
    const logFile = join(this.dir, 'postgres.log');
    // As root, run as the postgres user: initdb and postgres refuse root, and want to own the folder.
    const asUser = isRoot ? systemUser('postgres') : {};
    if (isRoot) chownSync(dir, asUser.uid, asUser.gid);
    try {
      await this.#run(
        join(binDir, 'initdb'),
        ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
        logFile,
        { ...asUser, cwd: dir },
      );
    } catch (err) {
      throw new ServerStartError('postgres (initdb)', logFile, err.message);
    }
    const { ports } = await this.#startServer({
      name: 'postgres',
      logFile,
      command: join(binDir, 'postgres'),
      // Durability is worth nothing in a throwaway test cluster; skipping it makes writes fast.
      args: ([port]) => [
        ...['-D', dataDir, '-k', dir, '-p', String(port), '-h', '127.0.0.1'],
        ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      ],
      spawnOptions: { ...asUser, cwd: dir },
      stopSignal: 'SIGINT', // fast shutdown; SIGTERM would wait for clients to disconnect
      timeoutMs: POSTGRES_READY_TIMEOUT_MS,
      ready: ([port]) => postgresReady(port),
    });
    const port = ports[0];
    try {
      await this.#run(
        join(binDir, 'psql'),
        [
          '-X',
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-U',
          'postgres',
          '-d',
          'postgres',
          '-c',
          `CREATE DATABASE ${POSTGRES_DATABASE}`,
        ],
        logFile,
      );
    } catch (err) {
      throw new ServerStartError(`postgres (CREATE DATABASE ${POSTGRES_DATABASE})`, logFile, err.message);
    }
    return port;
  }

  /** Stops every started server (politely, then SIGKILL after a bound) and the watchdog. */
  async stopAll() {
    this.#closed = true;
    await Promise.all(this.#processes.map((proc) => stopProcess(proc)));
    rmSync(this.pidFile, { force: true });
    const watchdog = this.#watchdog;
    if (watchdog && watchdog.exitCode === null && watchdog.signalCode === null) {
      // Waited for, so that it is reaped here rather than left a zombie.
      const exited = new Promise((r) => watchdog.once('exit', r));
      watchdog.ref();
      killQuietly(watchdog.pid, 'SIGTERM');
      await exited;
    }
  }

  /** Has the watchdog stop `child` too (with `signal`) if the runner is killed outright: used for Jest. */
  stopOnRunnerDeath(child, signal) {
    if (child.pid && !this.#closed) this.#watch(child, signal);
  }

  /** Last resort on a synchronous process exit: no waiting is possible there, so SIGKILL. */
  killAllNow() {
    this.#closed = true;
    for (const proc of this.#processes) {
      if (!proc.exitedAlready) killQuietly(proc.child.pid, 'SIGKILL');
    }
  }

  /**
   * Runs a short helper command to completion, its output appended to `logFile`. Tracked like the
   * servers, so a signal during start-up stops it too.
   */
  async #run(command, args, logFile, spawnOptions = {}) {
    const proc = this.#spawn(command, command, args, logFile, spawnOptions, 'SIGTERM');
    let timer;
    const timedOut = await Promise.race([
      proc.exited.then(() => false),
      new Promise((r) => (timer = setTimeout(() => r(true), HELPER_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    const commandLine = [command, ...args].join(' ');
    if (timedOut) {
      await stopProcess(proc);
      throw new Error(`${commandLine} did not finish in ${HELPER_TIMEOUT_MS / 1000} s`);
    }
    if (proc.child.exitCode !== 0) throw new Error(`${commandLine} failed (${proc.exitReason})`);
  }

  #folder(name) {
    const dir = join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Spawns a server on fresh free ports and waits until `ready(ports)` resolves. A server that exits
   * before it is ready (most often: its port was taken meanwhile) is tried again on new ports.
   */
  async #startServer({
    name,
    logFile,
    command,
    args,
    ready,
    portCount = 1,
    spawnOptions = {},
    stopSignal = 'SIGTERM',
    timeoutMs = READY_TIMEOUT_MS,
  }) {
    for (let attempt = 1; ; attempt++) {
      const ports = [];
      while (ports.length < portCount) {
        const port = await freePort();
        if (!ports.includes(port)) ports.push(port);
      }
      const proc = this.#spawn(name, command, args(ports), logFile, spawnOptions, stopSignal);
      try {
        await pollUntil(
          async () => {
            if (proc.exitedAlready)
              throw Object.assign(new Error(`exited early (${proc.exitReason})`), { fatal: true, early: true });
            await ready(ports);
          },
          { timeoutMs, what: `${name} on port ${ports[0]}` },
        );
        return { ports, proc };
      } catch (err) {
        await stopProcess(proc);
        if (err.early && attempt < START_ATTEMPTS && !this.#closed) {
          appendFileSync(logFile, `\n[runner] ${name} ${err.message}; trying other ports\n`);
          continue;
        }
        throw new ServerStartError(name, logFile, err.message);
      }
    }
  }

  #spawn(name, command, args, logFile, spawnOptions, stopSignal) {
    const log = openSync(logFile, 'a');
    let child;
    try {
      child = spawn(command, args, { stdio: ['ignore', log, log], detached: true, ...spawnOptions });
    } finally {
      closeSync(log);
    }
    const proc = { name, child, stopSignal, exitedAlready: false, exitReason: '' };
    proc.exited = new Promise((resolve) => {
      const done = (reason) => {
        proc.exitedAlready = true;
        proc.exitReason ||= reason;
        resolve();
      };
      child.once('error', (err) => done(err.message));
      child.once('exit', (code, signal) => done(signal ? `signal ${signal}` : `exit code ${code}`));
    });
    this.#processes.push(proc);
    if (this.#closed) {
      // Started while we were already shutting down (a signal during start-up): stop it at once.
      void stopProcess(proc);
    } else if (child.pid) {
      this.#watch(child, stopSignal);
    }
    return proc;
  }

  /** Records the pid for the watchdog, starting the watchdog with the first server. */
  #watch(child, stopSignal) {
    this.#watched.set(child.pid, stopSignal.replace(/^SIG/, ''));
    // Only live processes stay listed: pids are reused, and the watchdog must not hit a stranger.
    child.once('exit', () => this.#watched.delete(child.pid) && this.#writePidFile());
    this.#writePidFile();
    if (this.#watchdog) return;
    const script = [
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
      '[ -f "$2/server-pids" ] || exit 0',
      'while read -r sig pid; do kill -"$sig" "$pid" 2>/dev/null; done < "$2/server-pids"',
      'sleep 5; rm -rf "$2"',
    ].join('\n');
    this.#watchdog = spawn('sh', ['-c', script, 'watchdog', String(process.pid), this.dir], {
      stdio: 'ignore',
      detached: true,
    });
    this.#watchdog.unref();
  }

  #writePidFile() {
    if (this.#closed) return; // stopAll removes it; a server exiting then must not bring it back
    const lines = [...this.#watched].map(([pid, sig]) => `${sig} ${pid}\n`).join('');
    writeFileSync(`${this.pidFile}.new`, lines);
    renameSync(`${this.pidFile}.new`, this.pidFile); // the watchdog never reads half a file
  }
}

function clusterArgs(configFile, busPort) {
  const settings = { 'cluster-enabled': 'yes', 'cluster-config-file': configFile, 'cluster-port': busPort };
  return Object.entries({ ...settings, 'cluster-node-timeout': 5000 }).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

function redisArgs(port, dir) {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--dir',
    dir,
  ];
}

function killQuietly(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function stopProcess(proc) {
  if (proc.exitedAlready || !proc.child.pid) return;
  killQuietly(proc.child.pid, proc.stopSignal);
  const timedOut = await Promise.race([
    proc.exited.then(() => false),
    new Promise((r) => setTimeout(() => r(true), STOP_TIMEOUT_MS).unref()),
  ]);
  if (timedOut) {
    // The server's own process group: takes any helper processes it left with it.
    killQuietly(-proc.child.pid, 'SIGKILL');
    await proc.exited;
  }
}
