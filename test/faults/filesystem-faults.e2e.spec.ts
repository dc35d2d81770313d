import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { ADAPTERS, type AdapterName } from '../http/app/http-app.js';
import { answersUnderLoad, cachesAgain } from './fault-servers.js';

// The filesystem cache's directory filled to the last byte, then made read-only, while an app
// serves @CachePage and @Cacheable routes: every request answers from the source, a failed
// write leaves no partial file (and, on a full disk, not the value it meant to replace), and
// caching resumes once the space or the write access is back. The directory is a real 1 MB tmpfs, mounted by the
// app's process in a mount namespace of its own, so no mount outlives the test.
const COMMAND_TIMEOUT_MS = 200;
const HANDLER_MS = 20;
const LOAD = 10;

class FaultApp {
  private nextId = 0;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(mountPoint: string, adapter: AdapterName): Promise<FaultApp> {
    // Root may mount in a new mount namespace; anyone else maps themselves to root in a new
    // user namespace first (Debian allows unprivileged user namespaces).
    const namespaces = process.getuid?.() === 0 ? ['--mount'] : ['--user', '--map-root-user', '--mount'];
    const child = fork(
      join(import.meta.dirname, 'filesystem-fault-app.ts'),
      [mountPoint, adapter, String(COMMAND_TIMEOUT_MS), String(HANDLER_MS)],
      {
        execPath: 'unshare',
        execArgv: [
          ...namespaces,
          '--propagation',
          'private',
          process.execPath,
          '--import',
          join(import.meta.dirname, '..', 'support', 'register-ts.mjs'),
        ],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const [first] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`the fault app exited (${code}) before it listened: can this user run unshare --mount?`);
      }),
    ])) as [{ url: string }];
    return new FaultApp(child, first.url);
  }

  async command<T>(command: string, ...args: Array<string | number>): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.off('message', onMessage);
        reject(new Error(`the fault app did not answer '${command}' within 10 s`));
      }, 10_000);
      const onMessage = (message: { id: number; result?: T; failure?: string }) => {
        if (message.id !== id) return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        if (message.failure) reject(new Error(`${command}: ${message.failure}`));
        else resolve(message.result as T);
      };
      this.child.on('message', onMessage);
    });
    this.child.send({ id, command, args: args.map(String) });
    return answer;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ id: -1, command: 'exit', args: [] });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

describe.each(ADAPTERS)('on %s, the filesystem backend on a full, then read-only, disk', (adapter) => {
  let mountPoint: string;
  let app: FaultApp;
  let unique = 0;

  beforeAll(async () => {
    mountPoint = mkdtempSync(join(tmpdir(), 'nestjs-caches-fs-faults-'));
    app = await FaultApp.start(mountPoint, adapter);
  }, 30_000);

  afterAll(async () => {
    await app?.stop();
    rmSync(mountPoint, { recursive: true, force: true });
  });

  /** Fresh keys under load: each request is a miss, so each one tries to write. */
  async function missesUnderLoad(route: string) {
    const during = await answersUnderLoad(app.url, () => `/fs-faults/${route}/fresh-${unique++}`, 1_000, LOAD);
    expect(during.statuses.length).toBeGreaterThan(LOAD);
    expect(new Set(during.statuses)).toEqual(new Set([200]));
    expect(during.slowestMs).toBeLessThan(3 * COMMAND_TIMEOUT_MS + HANDLER_MS + 500);
  }

  function cachedAgain(route: string) {
    const path = `/fs-faults/${route}/again-${unique++}`;
    return cachesAgain(
      () => request(app.url).get(path).expect(200),
      () => app.command<number>('runs'),
      route === 'page',
    );
  }

  it.each(['page', 'method'])(
    'full: /fs-faults/%s answers every request from the source, and caches again once space is freed',
    async (route) => {
      expect(await app.command<number>('fill')).toBeGreaterThan(0);
      try {
        await missesUnderLoad(route);
        expect(await app.command('leftoverTempFiles')).toBe(0);
      } finally {
        await app.command('free');
      }
      expect(await cachedAgain(route)).toBe(true);
    },
    30_000,
  );

  it('full: a set that does not fit rejects, naming the alias and ENOSPC, and leaves no previous value', async () => {
    expect(await app.command('set', 'kept', 100)).toEqual({ stored: true });
    await app.command('fill');
    try {
      const failed = await app.command<{ stored: boolean; error: string; message: string }>('set', 'kept', 100_000);
      expect(failed).toMatchObject({ stored: false, error: 'CacheBackendError' });
      expect(failed.message).toMatch(/Cache 'files' failed to set 'kept'.*ENOSPC/);
      // The old 100-character value is gone rather than served as if the write had worked.
      expect(await app.command('get', 'kept')).toBeNull();
      expect(await app.command('leftoverTempFiles')).toBe(0);
    } finally {
      await app.command('free');
    }
    expect(await app.command('set', 'kept', 100_000)).toEqual({ stored: true });
    expect(await app.command('get', 'kept')).toBe(100_000);
  });

  it.each(['page', 'method'])(
    'read-only: /fs-faults/%s answers every request from the source, and caches again once writable',
    async (route) => {
      expect(await app.command('set', `ro-${route}`, 10)).toEqual({ stored: true });
      await app.command('readOnly');
      try {
        const failed = await app.command<{ stored: boolean; message: string }>('set', `ro-${route}`, 20);
        expect(failed.message).toMatch(/Cache 'files' failed to set .*EROFS/);
        // Nothing can be removed from a read-only directory: the old value stays until it expires.
        expect(await app.command('get', `ro-${route}`)).toBe(10);
        await missesUnderLoad(route);
      } finally {
        await app.command('writable');
      }
      expect(await cachedAgain(route)).toBe(true);
    },
    30_000,
  );
});
