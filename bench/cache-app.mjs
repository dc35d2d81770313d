// What several benches build the same way: an application context around CacheModule, and the
// address of a redis database of the bench's own.
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheModule } from '../dist/index.js';

/** An initialised Nest application context with `CacheModule.forRoot(caches)` and `imports`. */
export async function createCacheApp(caches, imports = []) {
  class BenchModule {}
  Module({ imports: [...imports, CacheModule.forRoot(caches)] })(BenchModule);
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  await app.init();
  return app;
}

/** The same redis server on database `db`: the bench's own, so its clear() touches nothing else. */
export function onDatabase(url, db) {
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  return parsed.href;
}
