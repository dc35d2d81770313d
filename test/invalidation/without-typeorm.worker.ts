// Boots CacheModule in a process where typeorm and @nestjs/typeorm cannot be imported, and says
// what happened, one line per case (read by invalidation-config.spec.ts).
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheInvalidator, CacheModule, Caches } from '../../lib/index.js';

async function boot(options: Parameters<typeof CacheModule.forRoot>[1]): Promise<string> {
  @Module({ imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'no-typeorm' } }, options)] })
  class AppModule {}
  try {
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    await app.get(Caches).default.set('k', 1);
    await app.get(CacheInvalidator).invalidate('Recipe', 1);
    await app.close();
    return 'booted';
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

let typeormMissing = false;
try {
  await import('typeorm');
} catch {
  typeormMissing = true;
}
console.log(`typeorm missing: ${typeormMissing}`);
console.log(`default: ${await boot({})}`);
console.log(`named: ${await boot({ invalidation: { dataSources: ['default'] } })}`);
