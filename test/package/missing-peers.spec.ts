import { describe, expect, it } from '@jest/globals';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CacheConfigError, CacheModule } from '../../lib/index.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/** Boots the worker's configurations in an app where `hidden` are not installed; its lines by configuration. */
async function bootWithout(hidden: string[], configurations: string[]): Promise<Record<string, string>> {
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      './test/support/register-ts.mjs',
      '--import',
      './test/package/hide-packages.mjs',
      'test/package/missing-peers.worker.ts',
      ...configurations,
    ],
    { cwd: root, env: { ...process.env, HIDE_PACKAGES: hidden.join(',') } },
  );
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/: (.*)/s).slice(0, 2)),
  );
}

describe('a missing optional peer', () => {
  it('fails boot naming the alias, the backend and the install command', async () => {
    const lines = await bootWithout(
      ['ioredis', 'memjs', 'typeorm', '@nestjs/typeorm', 'nunjucks', '@nestjs/terminus', 'keyv'],
      ['memcached', 'redis', 'tiered bus', 'database', 'keyv', 'health'],
    );
    expect(lines).toEqual({
      memcached: "CacheConfigError: caches.sessions uses backend 'memcached', which needs memjs: npm install memjs",
      redis: "CacheConfigError: caches.shared uses backend 'redis', which needs ioredis: npm install ioredis",
      'tiered bus':
        'CacheConfigError: caches.layered.bus publishes invalidations over redis, which needs ioredis: npm install ioredis',
      database:
        "CacheConfigError: caches.rows uses backend 'database', which needs typeorm and @nestjs/typeorm: npm install typeorm @nestjs/typeorm",
      keyv: "CacheConfigError: caches.adapted uses backend 'keyv', which needs keyv: npm install keyv",
      // Only the app imports Nunjucks and terminus: without them the rest works, the health indicator too.
      health: 'booted, default up',
    });
  }, 60_000);

  it('names only the peer that is missing', async () => {
    // @nestjs/typeorm is there but cannot load typeorm: the command still names typeorm alone.
    expect(await bootWithout(['typeorm'], ['database'])).toEqual({
      database: "CacheConfigError: caches.rows uses backend 'database', which needs typeorm: npm install typeorm",
    });
  }, 60_000);
});

describe('a database alias without a DataSource', () => {
  it('fails at boot, naming the alias and the module to import', async () => {
    @Module({ imports: [CacheModule.forRoot({ default: { backend: 'database', location: 'cache_table' } })] })
    class AppModule {}
    const booting = NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    await expect(booting).rejects.toThrow(CacheConfigError);
    await expect(booting).rejects.toThrow(
      'caches.default.options.dataSource: no TypeORM DataSource (the default one) was found. Import TypeOrmModule.forRoot({ ... }) in the application module.',
    );
  });
});
