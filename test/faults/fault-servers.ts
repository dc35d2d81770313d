import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import request from 'supertest';

/**
 * A redis-server or memcached of one test's own, on a fixed port, that the test kills and starts
 * again: the shared servers of `npm test` must stay up for the other test files.
 */
export class KillableServer {
  private child: ChildProcess | undefined;

  private constructor(
    private readonly command: string,
    private readonly args: string[],
    readonly port: number,
  ) {}

  static redis(port: number): KillableServer {
    return new KillableServer(
      process.env.REDIS_SERVER_BIN ?? 'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      port,
    );
  }

  static memcached(port: number): KillableServer {
    const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '64'];
    if (process.getuid?.() === 0) args.push('-u', 'nobody'); // memcached refuses to run as root
    return new KillableServer(process.env.MEMCACHED_BIN ?? 'memcached', args, port);
  }

  async start(): Promise<void> {
    this.child = spawn(this.command, this.args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (Date.now() > deadline) throw new Error(`${this.command} did not listen on ${this.port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The address of a redis-server started by `redis()`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** SIGSTOP: the socket stays open and nothing answers, as a server that hangs. */
  hang(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** SIGKILL: no goodbye to the clients, as when a host dies (a hung server too). */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Polls a route until it is served from the cache again (the source not run; for a page, an
 * `X-Cache: HIT`), for at most 15 s: caching must resume by itself once the store is back.
 */
export async function cachesAgain(
  get: () => Promise<{ headers: Record<string, string | undefined> }>,
  runs: () => number | Promise<number>,
  isPage: boolean,
): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    await get();
    const runsBefore = await runs();
    const again = await get();
    if ((await runs()) === runsBefore && (!isPage || again.headers['x-cache'] === 'HIT')) return true;
  }
  return false;
}

/**
 * `load` requests at a time, for `ms`, each to the path `path()` gives: every status and the
 * slowest answer, for tests that every request answers within a bound during a fault.
 */
export async function answersUnderLoad(
  url: string,
  path: () => string,
  ms: number,
  load: number,
): Promise<{ statuses: number[]; slowestMs: number }> {
  const statuses: number[] = [];
  let slowestMs = 0;
  const deadline = Date.now() + ms;
  const worker = async () => {
    while (Date.now() < deadline) {
      const started = performance.now();
      const response = await request(url).get(path()).timeout(5_000);
      slowestMs = Math.max(slowestMs, performance.now() - started);
      statuses.push(response.status);
    }
  };
  await Promise.all(Array.from({ length: load }, worker));
  return { statuses, slowestMs };
}
