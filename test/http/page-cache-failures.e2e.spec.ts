import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheModule, CachePage } from '../../lib/index.js';
import { freePort } from '../support/addresses.js';
import { ADAPTERS, startApp } from './app/http-app.js';
import { Runs } from './app/pages.controller.js';

@Controller('down')
class DownController {
  constructor(private readonly runs: Runs) {}

  @Get()
  @CachePage(60, { cache: 'down' })
  page() {
    return { run: this.runs.count('down') };
  }
}

/** A redis alias whose server is not there: nothing listens on its port. */
function moduleWithDeadRedis(port: number): DynamicModule {
  @Module({})
  class DeadRedisModule {}
  return {
    module: DeadRedisModule,
    imports: [
      CacheModule.forRoot({
        default: { backend: 'locmem', location: 'page-cache-failures' },
        down: { backend: 'redis', location: `redis://127.0.0.1:${port}/0`, commandTimeoutMs: 200 },
      }),
    ],
    controllers: [DownController],
    providers: [Runs],
  };
}

describe.each(ADAPTERS)('@CachePage with its store down, on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    const module = moduleWithDeadRedis(await freePort());
    ({ app, url } = await startApp(adapter, module));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('answers every request from the handler, promptly', async () => {
    const started = Date.now();
    for (let i = 1; i <= 3; i++) {
      const response = await request(url).get('/down').expect(200);
      expect(response.body.run).toBe(i);
      expect(response.headers['x-cache']).toBe('MISS');
    }
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
