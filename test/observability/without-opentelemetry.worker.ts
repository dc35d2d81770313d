// Boots CacheModule where @opentelemetry/api cannot be imported, one line per case (read by tracing.e2e.spec.ts).
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cacheable, CacheModule, Caches, type CacheModuleOptions } from '../../lib/index.js';

@Injectable()
class Service {
  runs = 0;

  @Cacheable({ key: 'k' })
  async value() {
    return ++this.runs;
  }
}

async function boot(options: CacheModuleOptions): Promise<string> {
  @Module({
    imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'no-otel' } }, options)],
    providers: [Service],
  })
  class AppModule {}
  try {
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    await app.get(Caches).default.set('k2', 1);
    const service = app.get(Service);
    const results = [await service.value(), await service.value(), await app.get(Caches).default.get('k2')];
    await app.close();
    return `booted, ${results.join(' ')}`;
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

console.log(`without tracing options: ${await boot({})}`);
console.log(`with tracing: ${await boot({ tracing: { recordKeys: true } })}`);
