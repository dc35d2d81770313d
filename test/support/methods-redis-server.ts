import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, redisDb } from './addresses.js';

/**
 * A redis-server of the test's own, on a free port, for faults the shared one must not suffer:
 * `hang()` stops the process (SIGSTOP: its socket stays open and nothing answers, as a server
 * that hangs), `resume()` lets it go on, `kill()` ends it (connections refused from then on).
 */
export interface OwnRedis {
  url: string;
  hang(): void;
  resume(): void;
  kill(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const server = spawn(
    process.env.REDIS_SERVER_BIN ?? 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready`)));
    server.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve();
    });
  });
  server.stdout!.resume();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    hang: () => server.kill('SIGSTOP'),
    resume: () => server.kill('SIGCONT'),
    kill: () => stop(server),
  };
}

function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.kill('SIGCONT');
  server.kill('SIGKILL');
  return exited;
}

/**
 * A user of the shared test redis (REDIS_URL) that may run every command but `denied`: a store
 * that answers reads and refuses, for real, the commands a test wants to fail (`set`: writes;
 * `evalsha`, `eval`: the scripts, such as the lease's compare-and-delete). Returns the URL of
 * database `db` as that user, and a function that removes the user.
 */
export async function redisUserDenied(
  db: number,
  denied: readonly string[],
): Promise<{ url: string; remove: () => Promise<void> }> {
  const admin = new Redis(redisDb(db));
  const name = `methods-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const password = 'methods-test';
  await admin.call('ACL', 'SETUSER', name, 'on', `>${password}`, '~*', '&*', '+@all', ...denied.map((c) => `-${c}`));
  const url = new URL(redisDb(db));
  url.username = name;
  url.password = password;
  return {
    url: url.href,
    remove: async () => {
      await admin.call('ACL', 'DELUSER', name);
      admin.disconnect();
    },
  };
}
