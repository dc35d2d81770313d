import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplication } from '@nestjs/common';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import request from 'supertest';
import { CACHE_STALE_CHANNEL, CacheModule, Caches, type CacheStaleEvent } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../http/app/http-app.js';
import { AllowHeaderGuard, PagesController, Runs, WholeController } from '../http/app/pages.controller.js';

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'page-stale-stats', timeout: 300 } })],
  controllers: [PagesController, WholeController],
  providers: [Runs, AllowHeaderGuard],
})
class PagesModule {}

describe.each(ADAPTERS)('pages answered STALE on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, PagesModule));
  });

  afterAll(async () => {
    await app?.close();
  });

  it("count in the alias's staleServes and publish on nestjs-caches:stale", async () => {
    const cache = app.get(Caches).default;
    await request(url).get('/pages/stale').expect(200);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const events: CacheStaleEvent[] = [];
    const listener = (message: unknown) => events.push(message as CacheStaleEvent);
    subscribe(CACHE_STALE_CHANNEL, listener);
    try {
      const during = await Promise.all(Array.from({ length: 5 }, () => request(url).get('/pages/stale')));
      const stale = during.filter((response) => response.headers['x-cache'] === 'STALE').length;
      expect(stale).toBe(4);
      expect(cache.stats().staleServes).toBe(stale);
      expect(events).toHaveLength(stale);
      expect(events[0]).toEqual({ alias: 'default', key: `${url}/pages/stale`, source: 'page' });
    } finally {
      unsubscribe(CACHE_STALE_CHANNEL, listener);
    }
  });
});
