import 'reflect-metadata';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { cli } from '../support/run-cli.js';
import { CacheModule, Caches, type CachesOptions } from '../../lib/index.js';
import { freePort, redisDb } from '../support/addresses.js';

const root = mkdtempSync(join(tmpdir(), 'nestjs-caches-cli-cmd-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const requireHere = createRequire(import.meta.url);
const typeormUrl = pathToFileURL(requireHere.resolve('typeorm')).href;
const commonUrl = pathToFileURL(requireHere.resolve('@nestjs/common')).href;
const libUrl = pathToFileURL(resolve('lib/index.ts')).href;

/** Writes a config module (as an app would keep next to its AppModule) and returns its path. */
function configFile(source: string): string {
  const dir = mkdtempSync(join(root, 'app-'));
  const file = join(dir, 'caches.mjs');
  writeFileSync(file, source);
  return file;
}

/** Puts entries in the stores through the library, as the application would. */
async function populate(caches: CachesOptions, writes: Record<string, Record<string, unknown>>): Promise<void> {
  const moduleRef = await Test.createTestingModule({ imports: [CacheModule.forRoot(caches)] }).compile();
  await moduleRef.init();
  try {
    for (const [alias, entries] of Object.entries(writes)) await moduleRef.get(Caches).get(alias).setMany(entries);
  } finally {
    await moduleRef.close();
  }
}

const line = (stdout: string, alias: string) => stdout.split('\n').find((l) => l.startsWith(`${alias} `)) ?? '';

describe('npx nestjs-caches stats and clear, with --config', () => {
  it('count and clear a filesystem alias and only its redis keys, and leave locmem to the app', async () => {
    const directory = join(root, 'files');
    const caches: CachesOptions = {
      default: { backend: 'locmem', location: 'cli' },
      files: { backend: 'filesystem', location: directory },
      redis: { backend: 'redis', location: redisDb(7), keyPrefix: 'cli-own' },
      neighbour: { backend: 'redis', location: redisDb(7), keyPrefix: 'cli-neighbour' },
    };
    await populate(caches, { files: { a: 1, b: 'two', c: [3] }, redis: { x: 1, y: 2 }, neighbour: { z: 3 } });
    const config = configFile(`export const caches = ${JSON.stringify(caches)};\n`);

    const stats = await cli('stats', '--config', config);
    expect(stats.stderr).toBe('');
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/^alias +backend +round trip +entries/);
    expect(line(stats.stdout, 'default')).toMatch(/locmem +n\/a \(in process\) +n\/a \(each app process has its own\)/);
    expect(line(stats.stdout, 'files')).toMatch(/filesystem +ok [\d.]+ ms +3 files, \d+ bytes/);
    expect(line(stats.stdout, 'redis')).toMatch(
      /redis +ok [\d.]+ ms +2 keys matching cli-own:\*:\* \(\d+ in the database\)/,
    );
    expect(line(stats.stdout, 'neighbour')).toContain('1 keys matching cli-neighbour:*:*');

    const cleared = await cli('clear', 'files', 'redis', '--config', config);
    expect(cleared).toMatchObject({ code: 0, stdout: "Cleared cache 'files'.\nCleared cache 'redis'.\n" });
    expect(readdirSync(directory).filter((name) => name.endsWith('.ncache'))).toEqual([]);
    const redis = new Redis(redisDb(7));
    try {
      expect(await redis.keys('cli-own:*')).toEqual([]);
      expect(await redis.keys('cli-neighbour:*')).toHaveLength(1);
      await redis.del(...(await redis.keys('cli-neighbour:*')));
    } finally {
      redis.disconnect();
    }
    const after = await cli('stats', '--config', config);
    expect(line(after.stdout, 'files')).toContain('0 files, 0 bytes');
    expect(line(after.stdout, 'redis')).toContain('0 keys matching cli-own:*:*');

    const locmem = await cli('clear', 'default', '--config', config);
    expect(locmem.code).toBe(1);
    expect(locmem.stderr).toContain("'default' is a locmem cache: it lives inside each application process");
  }, 60_000);

  it('count and clear the rows of a database alias on SQLite', async () => {
    const database = join(mkdtempSync(join(root, 'db-')), 'app.sqlite');
    const config = configFile(
      `import { DataSource } from '${typeormUrl}';
export const dataSource = new DataSource({ type: 'better-sqlite3', database: ${JSON.stringify(database)} });
export default { default: 'dummy://', db: { backend: 'database', location: 'cache_table', options: { createTable: true } } };
`,
    );
    const empty = await cli('stats', '--config', config);
    expect(empty.stderr).toBe('');
    expect(line(empty.stdout, 'db')).toMatch(/database +ok [\d.]+ ms +0 rows/);
    expect(line(empty.stdout, 'default')).toMatch(/dummy +ok [\d.]+ ms +0 \(keeps nothing\)/);

    const db = await new DataSource({ type: 'better-sqlite3', database }).initialize();
    try {
      await db.query(
        `INSERT INTO cache_table VALUES ('a', 'dg==', '9999-12-31 23:59:59.999'), ('b', 'dg==', '9999-12-31 23:59:59.999')`,
      );
      expect(line((await cli('stats', '--config', config)).stdout, 'db')).toContain('2 rows');
      expect(await cli('clear', 'db', '--config', config)).toMatchObject({ code: 0, stdout: "Cleared cache 'db'.\n" });
      expect(await db.query('SELECT COUNT(*) AS n FROM cache_table')).toEqual([{ n: 0 }]);
    } finally {
      await db.destroy();
    }
  }, 60_000);

  it('refuse unknown aliases with the configured list, and report a backend that is down', async () => {
    const down = `redis://127.0.0.1:${await freePort()}`;
    const config = configFile(
      `export default ${JSON.stringify({ default: 'locmem://', sessions: { backend: 'redis', location: down, commandTimeoutMs: 200 }, lenient: { backend: 'redis', location: down, ignoreErrors: true, commandTimeoutMs: 200 } })};\n`,
    );
    const unknown = await cli('clear', 'sesions', '--config', config);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("clear: no cache alias 'sesions'; configured: default, sessions, lenient.");

    const stats = await cli('stats', '--config', config);
    expect(stats.code).toBe(0);
    expect(line(stats.stdout, 'sessions')).toMatch(/redis +failed: .+ +unknown: .+/);

    const cleared = await cli('clear', 'sessions', '--config', config);
    expect(cleared.code).toBe(1);
    expect(cleared.stderr).toContain("Cache 'sessions' failed to clear");
    const hidden = await cli('clear', 'lenient', '--config', config);
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toContain("cache 'lenient' failed to clear (its backend failed; ignoreErrors hid the error)");
  }, 60_000);

  it('explain what is missing, with the usage', async () => {
    const noSource = await cli('stats');
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toContain('--config <file> or --module <file>#<Class> is required');
    const noAlias = await cli('clear', '--config', 'x.mjs');
    expect(noAlias.code).toBe(2);
    expect(noAlias.stderr).toContain('name the alias to clear');
    const wrong = await cli('stats', '--config', configFile('export const somethingElse = 1;\n'));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('exports no caches object');
  }, 60_000);
});

describe('npx nestjs-caches stats and clear, with --module', () => {
  it("boot the application's module and use its CacheModule", async () => {
    const directory = join(root, 'module-files');
    const file = configFile(''); // a directory of its own
    const appModule = join(file, '..', 'app.module.mjs');
    writeFileSync(
      appModule,
      `import { Module } from '${commonUrl}';
import { CacheModule } from '${libUrl}';
export class AppModule {}
Module({ imports: [CacheModule.forRootAsync({ useFactory: () => ({ caches: { default: ${JSON.stringify(`file://${directory}`)} } }) })] })(AppModule);
`,
    );
    await populate({ default: `file://${directory}` }, { default: { a: 1, b: 2 } });
    const stats = await cli('stats', '--module', `${appModule}#AppModule`);
    expect(stats.stderr).toBe('');
    expect(line(stats.stdout, 'default')).toMatch(/filesystem +ok [\d.]+ ms +2 files/);
    expect(await cli('clear', 'default', '--module', appModule)).toMatchObject({
      code: 0,
      stdout: "Cleared cache 'default'.\n",
    });
    const wrongName = await cli('stats', '--module', `${appModule}#ApModule`);
    expect(wrongName.code).toBe(1);
    expect(wrongName.stderr).toContain('exports no module class ApModule');
  }, 60_000);
});
