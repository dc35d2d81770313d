import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheModule, CachePage } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName } from './app/http-app.js';

const runs = new Map<string, number>();

/**
 * One app of several sharing one store (locmem stores with the same `location` share their data,
 * as two servers share a redis): the same route, under `keyPrefix`.
 */
function sharingApp(adapter: AdapterName, name: string, keyPrefix: string) {
  @Controller('shared')
  class SharedController {
    @Get()
    @CachePage(60, { keyPrefix })
    page() {
      const run = (runs.get(name) ?? 0) + 1;
      runs.set(name, run);
      return { app: name, run };
    }
  }

  @Module({
    imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `key-prefix-${adapter}` } })],
    controllers: [SharedController],
  })
  class SharingModule {}
  return SharingModule;
}

describe.each(ADAPTERS)('keyPrefix, on %s', (adapter) => {
  const apps: INestApplication[] = [];
  const urls: Record<string, string> = {};
  // Every app is asked under one Host, so that the URL, and so the key, is the same but for the prefix.
  const get = (name: string) => request(urls[name]!).get('/shared').set('Host', 'pages.test');

  beforeAll(async () => {
    for (const [name, prefix] of [
      ['blue', 'blue'],
      ['green', 'green'],
      ['blue-twin', 'blue'],
    ]) {
      const { app, url } = await startApp(adapter, sharingApp(adapter, `${adapter}-${name}`, prefix!));
      apps.push(app);
      urls[name!] = url;
    }
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  it('keeps the pages of two prefixes apart in one store; one prefix shares them', async () => {
    const blue = await get('blue').expect(200);
    expect(blue.headers['x-cache']).toBe('MISS');
    expect((await get('blue').expect(200)).headers['x-cache']).toBe('HIT');
    const green = await get('green').expect(200);
    expect(green.headers['x-cache']).toBe('MISS');
    expect(green.body.app).toBe(`${adapter}-green`);
    // The same prefix in another app finds blue's page: the store is shared, only the prefix parts them.
    const twin = await get('blue-twin').expect(200);
    expect(twin.headers['x-cache']).toBe('HIT');
    expect(twin.text).toBe(blue.text);
    expect((await get('green').expect(200)).body.app).toBe(`${adapter}-green`);
    expect([runs.get(`${adapter}-blue`), runs.get(`${adapter}-green`), runs.get(`${adapter}-blue-twin`)]).toEqual([
      1,
      1,
      undefined,
    ]);
  });
});
