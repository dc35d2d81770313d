import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheModule, CachePage, type CacheModuleOptions } from '../../lib/index.js';

async function bootWith(options: CacheModuleOptions): Promise<unknown> {
  @Module({ imports: [CacheModule.forRoot({ default: { backend: 'locmem' } }, options)] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
  await app.close();
  return app;
}

describe('HTTP cache settings', () => {
  it.each([
    [{ site: { timeout: -1 } }, /site\.timeout must be a number of seconds >= 0/],
    [{ site: { timeout: Number.NaN } }, /site\.timeout/],
    [{ site: { cache: 'pages' } }, /No cache alias 'pages'; configured: default/],
    [{ site: { ttl: 5 } }, /site\.ttl is not an option; known: cache, timeout, keyPrefix/],
    [{ statusHeader: 'X Cache' }, /statusHeader must be an HTTP header name/],
    [{ sites: {} }, /CacheModule options\.sites is not an option/],
    [{ site: { staleWhileRevalidate: -5 } }, /site\.staleWhileRevalidate must be a number of seconds >= 0/],
  ])('rejects %j at boot', async (options, message) => {
    await expect(bootWith(options as CacheModuleOptions)).rejects.toThrow(message);
  });

  it('accepts a valid site cache', async () => {
    await expect(bootWith({ site: { cache: 'default', timeout: 0, keyPrefix: 'p' } })).resolves.toBeDefined();
  });

  it('rejects a negative staleWhileRevalidate where it is written', () => {
    expect(() => CachePage(60, { staleWhileRevalidate: -1 })).toThrow(/staleWhileRevalidate takes a number of seconds/);
  });

  it.each([-1, Number.NaN, Infinity, '60'])('rejects @CachePage(%p) where it is written', (timeout) => {
    expect(() => CachePage(timeout as number)).toThrow(/@CachePage\(timeout\) takes a number of seconds >= 0/);
  });
});
