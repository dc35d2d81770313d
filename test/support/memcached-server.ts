import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './addresses.js';

function answersVersion(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.once('data', (data) => (socket.destroy(), resolve(data.toString().startsWith('VERSION'))));
    socket.write('version\r\n');
  });
}

/**
 * Starts a memcached of the calling file's own (MEMCACHED_SERVERS belongs to the contract suite,
 * whose clear() is flush_all) and returns its address once it answers; the caller kills `children`.
 */
export async function startMemcached(children: ChildProcess[]): Promise<string> {
  const port = await freePort();
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '64'];
  if (process.getuid?.() === 0) args.push('-u', 'nobody');
  const child = spawn(process.env.MEMCACHED_BIN ?? 'memcached', args, { stdio: 'ignore' });
  children.push(child);
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await answersVersion(port)) return `127.0.0.1:${port}`;
    await sleep(50);
  }
  throw new Error(`memcached on port ${port} did not start`);
}
