// The servers started by test/setup/run-tests.mjs answer on the addresses it exports. Raw protocol
// exchanges, so this says nothing about our backends, only that the ground under them is there.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run the tests with \`npm test\` (not with NESTJS_CACHES_NO_SERVERS=1)`);
  return value;
}

/** `host:port` list → [host, port] pairs. */
function addresses(list: string): Array<[string, number]> {
  return list.split(',').map((address) => {
    const [host, port] = address.trim().split(':');
    return [host!, Number(port)];
  });
}

/** Sends `request` and resolves with what comes back once it contains `until`. */
function exchange(host: string, port: number, request: string, until: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = createConnection({ host, port });
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(text);
    };
    const timer = setTimeout(
      () => finish(new Error(`${host}:${port} gave no '${until}' in ${timeoutMs} ms: ${JSON.stringify(text)}`)),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes(until) || text.startsWith('-')) finish();
    });
    socket.once('error', finish);
  });
}

describe('test servers', () => {
  it('redis answers PING', async () => {
    const url = new URL(requireEnv('REDIS_URL'));
    expect(await exchange(url.hostname, Number(url.port), 'PING\r\n', '\r\n')).toBe('+PONG\r\n');
  });

  it('every redis cluster node reports cluster_state:ok with 3 masters', async () => {
    const nodes = addresses(requireEnv('REDIS_CLUSTER_NODES'));
    expect(nodes).toHaveLength(3);
    for (const [host, port] of nodes) {
      const info = await exchange(host, port, 'CLUSTER INFO\r\n', 'cluster_stats_messages');
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_size:3');
    }
  });

  it('the redis sentinel names a master that answers, with one replica', async () => {
    const [[host, port]] = addresses(requireEnv('REDIS_SENTINELS')) as [[string, number]];
    const name = requireEnv('REDIS_SENTINEL_NAME');
    const info = await exchange(host, port, 'INFO sentinel\r\n', 'sentinels=');
    const master = new RegExp(`name=${name},status=ok,address=([\\d.]+):(\\d+),slaves=1`).exec(info);
    expect(master).not.toBeNull();
    expect(await exchange(master![1]!, Number(master![2]), 'PING\r\n', '\r\n')).toBe('+PONG\r\n');
  });

  it('both memcached servers answer version', async () => {
    const servers = addresses(requireEnv('MEMCACHED_SERVERS'));
    expect(servers).toHaveLength(2);
    for (const [host, port] of servers) {
      expect(await exchange(host, port, 'version\r\n', '\r\n')).toMatch(/^VERSION \d+\.\d+/);
    }
  });

  it('postgres runs a query in the test database', async () => {
    const url = requireEnv('POSTGRES_URL');
    const psql = process.env.POSTGRES_BIN_DIR ? join(process.env.POSTGRES_BIN_DIR, 'psql') : 'psql';
    const { stdout } = await promisify(execFile)(
      psql,
      ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', 'select current_database(), 1 + 1', url],
      { timeout: 10_000 },
    );
    expect(stdout.trim()).toBe('nestjs_caches_test|2');
  });

  it('the server programs exist for tests that restart servers', () => {
    for (const name of ['REDIS_SERVER_BIN', 'MEMCACHED_BIN']) {
      expect(() => accessSync(requireEnv(name), constants.X_OK)).not.toThrow();
    }
  });
});
