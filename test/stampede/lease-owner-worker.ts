// A lease owner that dies: boots a Nest context on redis, calls a `@Cacheable({ lock })` method
// whose run counts itself in redis and then never finishes, and waits to be killed (SIGKILL, by
// the lease-faults test). Its lease is left behind, with nobody to release it but its TTL.
// Usage: node --import ./test/support/register-ts.mjs lease-owner-worker.ts <redisUrl> <prefix> <lockTtlSeconds>
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { Cacheable, CacheModule } from '../../lib/index.js';

const [redisUrl, prefix, lockTtl] = process.argv.slice(2) as [string, string, string];
const counter = new Redis(redisUrl);

@Injectable()
class ReportService {
  @Cacheable({ key: 'report', timeout: 60, lock: { ttl: Number(lockTtl), wait: 60 } })
  async build(): Promise<string> {
    await counter.incr(`${prefix}:runs`);
    return new Promise<string>(() => undefined);
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'redis', location: redisUrl, keyPrefix: prefix } })],
  providers: [ReportService],
})
class WorkerModule {}

const app = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
void app.get(ReportService).build();
