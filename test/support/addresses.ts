import { createServer } from 'node:net';

/** REDIS_URL (started by `npm test`), on a database number that belongs to one test file. */
export function redisDb(db: number): string {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  url.pathname = `/${db}`;
  return url.href;
}

/** A loopback port nothing listens on right now, for servers a test starts and stops itself. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** REDIS_SENTINELS (started by `npm test`) as ioredis takes them, and the name of the master they watch. */
export function redisSentinels(): { sentinels: Array<{ host: string; port: number }>; name: string } {
  const sentinels = (process.env.REDIS_SENTINELS ?? '127.0.0.1:26379').split(',').map((address) => {
    const [host, port] = address.trim().split(':');
    return { host: host!, port: Number(port) };
  });
  return { sentinels, name: process.env.REDIS_SENTINEL_NAME ?? 'mymaster' };
}
