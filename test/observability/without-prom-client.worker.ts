// Boots CacheModule where prom-client cannot be imported, one line per case (read by prometheus.spec.ts).
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheModule, Caches, type CacheModuleOptions } from '../../lib/index.js';

async function boot(options: CacheModuleOptions): Promise<string> {
  @Module({ imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'no-prom' } }, options)] })
  class AppModule {}
  try {
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    await app.get(Caches).default.set('k', 1);
    await app.close();
    return 'booted';
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

console.log(`without metrics: ${await boot({})}`);
console.log(`with metrics: ${await boot({ metrics: { prometheus: true } })}`);
