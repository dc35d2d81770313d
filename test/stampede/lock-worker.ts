// One of the processes of the cross-process lock test: boots a Nest context on redis, waits for
// the common start time, then calls a `@Cacheable({ lock: true })` method from 200 concurrent
// callers. The method counts its runs in redis, so the parent sees the total over all processes.
// Usage: node --import ./test/support/register-ts.mjs lock-worker.ts <redisUrl> <prefix> <startAtEpochMs>
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { Cacheable, CacheModule } from '../../lib/index.js';

const [redisUrl, prefix, startAt] = process.argv.slice(2) as [string, string, string];
const counter = new Redis(redisUrl);

@Injectable()
class ReportService {
  @Cacheable({ key: 'report', timeout: 60, lock: true })
  async build(): Promise<string> {
    await counter.incr(`${prefix}:runs`);
    await sleep(300);
    return `built by ${process.pid}`;
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'redis', location: redisUrl, keyPrefix: prefix } })],
  providers: [ReportService],
})
class WorkerModule {}

const app = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
const reports = app.get(ReportService);
await sleep(Math.max(0, Number(startAt) - Date.now()));
const results = await Promise.all(Array.from({ length: 200 }, () => reports.build()));
process.stdout.write(JSON.stringify({ values: [...new Set(results)] }));
await app.close();
counter.disconnect();
