import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Header, Module, Post, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheModule, CachePage, NeverCache } from '../../lib/index.js';
import { ADAPTERS, startApp } from './app/http-app.js';
import { Runs } from './app/pages.controller.js';

@Controller('site')
class SiteController {
  constructor(private readonly runs: Runs) {}

  @Get('plain')
  plain() {
    return { run: this.runs.count('plain') };
  }

  @Get('slow')
  async slow() {
    const run = this.runs.count('slow');
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { run };
  }

  @Post('plain')
  post() {
    return { run: this.runs.count('post') };
  }

  @Get('never')
  @NeverCache()
  never() {
    return { run: this.runs.count('never') };
  }

  @Get('own')
  @CachePage(5, { keyPrefix: 'own' })
  own() {
    return { run: this.runs.count('own') };
  }

  @Get('max-age-0')
  @Header('Cache-Control', 'max-age=0')
  maxAgeZero() {
    return { run: this.runs.count('max-age-0') };
  }

  @Get('max-age-1')
  @Header('Cache-Control', 'max-age=1')
  maxAgeOne() {
    return { run: this.runs.count('max-age-1') };
  }

  /** `@CachePage(timeout)` is Django's `page_timeout`: it wins over the response's `max-age`. */
  @Get('own-max-age-1')
  @CachePage(30, { keyPrefix: 'own' })
  @Header('Cache-Control', 'max-age=1')
  ownMaxAgeOne() {
    return { run: this.runs.count('own-max-age-1') };
  }

  @Get('expires')
  @Header('Expires', 'Thu, 01 Jan 2037 00:00:00 GMT')
  expires() {
    return { run: this.runs.count('expires') };
  }

  @Get('max-age-7')
  @Header('Cache-Control', 'max-age=7')
  maxAgeSeven() {
    return { run: this.runs.count('max-age-7') };
  }
}

@Module({
  imports: [
    CacheModule.forRoot(
      { default: { backend: 'locmem', location: 'site-cache-e2e', timeout: 300 } },
      { site: { timeout: 60, keyPrefix: 'site' }, statusHeader: 'X-Page-Cache' },
    ),
  ],
  controllers: [SiteController],
  providers: [Runs],
})
class SiteModule {}

/** No site timeout: the response's max-age decides, else the alias default (Django's order). */
@Module({
  imports: [
    CacheModule.forRootAsync({
      useFactory: () => ({
        caches: { default: { backend: 'locmem', location: 'site-cache-async-e2e', timeout: 300 } },
        site: {},
      }),
    }),
  ],
  controllers: [SiteController],
  providers: [Runs],
})
class MaxAgeSiteModule {}

/** Seconds from `sent` to an `Expires` date. */
function expiresIn(expires: string | undefined, sent: number): number {
  return (new Date(expires!).getTime() - sent) / 1000;
}

describe.each(ADAPTERS)('the per-site cache on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let runs: Runs;
  const get = (path: string) => request(url).get(path);

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, SiteModule));
    runs = app.get(Runs);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('caches every GET route, under the configured status header', async () => {
    const miss = await get('/site/plain').expect(200);
    expect(miss.headers['x-page-cache']).toBe('MISS');
    expect(miss.headers['x-cache']).toBeUndefined();
    expect(miss.headers['cache-control']).toBe('max-age=60');
    const hit = await get('/site/plain').expect(200);
    expect(hit.headers['x-page-cache']).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
    expect(runs.of('plain')).toBe(1);
  });

  it('runs the handler once for 80 concurrent cold requests', async () => {
    const responses = await Promise.all(Array.from({ length: 80 }, () => get('/site/slow')));
    expect(runs.of('slow')).toBe(1);
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(new Set(responses.map((response) => response.text))).toEqual(new Set(['{"run":1}']));
    const statuses = responses.map((response) => response.headers['x-page-cache']);
    expect(statuses.filter((status) => status === 'MISS')).toHaveLength(1);
    expect(statuses.filter((status) => status === 'HIT')).toHaveLength(79);
  });

  it('bypasses other methods', async () => {
    const response = await request(url).post('/site/plain').expect(201);
    expect(response.headers['x-page-cache']).toBe('BYPASS');
  });

  it('leaves out routes marked @NeverCache', async () => {
    await get('/site/never').expect(200);
    const again = await get('/site/never').expect(200);
    expect(again.headers['x-page-cache']).toBeUndefined();
    expect(again.headers['cache-control']).toContain('no-store');
    expect(runs.of('never')).toBe(2);
  });

  it("keeps a page for the response's max-age, not site.timeout", async () => {
    const sent = Date.now();
    const miss = await get('/site/max-age-1').expect(200);
    expect(miss.headers['x-page-cache']).toBe('MISS');
    expect(miss.headers['cache-control']).toBe('max-age=1');
    expect(expiresIn(miss.headers.expires, sent)).toBeLessThanOrEqual(2);
    expect((await get('/site/max-age-1')).headers['x-page-cache']).toBe('HIT');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await get('/site/max-age-1')).headers['x-page-cache']).toBe('MISS');
    expect(runs.of('max-age-1')).toBe(2);
  });

  it('stores nothing for max-age=0, whatever site.timeout says', async () => {
    await get('/site/max-age-0').expect(200);
    const again = await get('/site/max-age-0').expect(200);
    expect(again.headers['x-page-cache']).toBe('BYPASS');
    expect(again.headers['cache-control']).toBe('max-age=0');
    expect(runs.of('max-age-0')).toBe(2);
  });

  it('replaces an Expires of its own by the time the page is kept', async () => {
    const sent = Date.now();
    const miss = await get('/site/expires').expect(200);
    expect(miss.headers['cache-control']).toBe('max-age=60');
    expect(expiresIn(miss.headers.expires, sent)).toBeGreaterThanOrEqual(58);
    expect(expiresIn(miss.headers.expires, sent)).toBeLessThanOrEqual(62);
  });

  it("keeps a @CachePage(timeout) page for its timeout over the response's max-age, and says so", async () => {
    const sent = Date.now();
    const miss = await get('/site/own-max-age-1').expect(200);
    expect(miss.headers['cache-control']).toBe('max-age=30');
    expect(expiresIn(miss.headers.expires, sent)).toBeGreaterThanOrEqual(28);
    expect(expiresIn(miss.headers.expires, sent)).toBeLessThanOrEqual(32);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const hit = await get('/site/own-max-age-1').expect(200);
    expect(hit.headers['x-page-cache']).toBe('HIT');
    expect(hit.headers['cache-control']).toBe('max-age=30');
    expect(runs.of('own-max-age-1')).toBe(1);
  });

  it("lets a route's own @CachePage decide", async () => {
    const miss = await get('/site/own').expect(200);
    expect(miss.headers['cache-control']).toBe('max-age=5');
    expect((await get('/site/own')).headers['x-page-cache']).toBe('HIT');
    expect(runs.of('own')).toBe(1);
  });
});

describe.each(ADAPTERS)('the per-site cache without a timeout, on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let runs: Runs;
  const get = (path: string) => request(url).get(path);

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, MaxAgeSiteModule));
    runs = app.get(Runs);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('stores nothing for max-age=0', async () => {
    await get('/site/max-age-0').expect(200);
    const again = await get('/site/max-age-0').expect(200);
    expect(again.headers['x-cache']).toBe('BYPASS');
    expect(runs.of('max-age-0')).toBe(2);
  });

  it("keeps a page for the response's max-age", async () => {
    const miss = await get('/site/max-age-7').expect(200);
    expect(miss.headers['cache-control']).toBe('max-age=7');
    expect(new Date(miss.headers.expires!).getTime()).toBeLessThanOrEqual(Date.now() + 8000);
    expect((await get('/site/max-age-7')).headers['x-cache']).toBe('HIT');
  });

  it('falls back to the alias default timeout', async () => {
    const miss = await get('/site/plain').expect(200);
    expect(miss.headers['cache-control']).toBe('max-age=300');
    expect((await get('/site/plain')).headers['x-cache']).toBe('HIT');
  });
});
