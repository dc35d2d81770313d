import 'reflect-metadata';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Header, Module, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheModule, CachePage, Caches } from '../../lib/index.js';
import { ADAPTERS, startApp } from './app/http-app.js';
import { Runs } from './app/pages.controller.js';

const LAST_MODIFIED = 'Wed, 01 Jan 2025 00:00:00 GMT';

@Controller('conditional')
class ConditionalController {
  constructor(private readonly runs: Runs) {}

  @Get('tagged')
  @CachePage(60)
  tagged() {
    return { run: this.runs.count('tagged') };
  }

  /** The same bytes on every run, so the same tag. */
  @Get('constant')
  @CachePage(60)
  constant() {
    this.runs.count('constant');
    return { page: 'constant' };
  }

  @Get('dated')
  @CachePage(60)
  @Header('Last-Modified', LAST_MODIFIED)
  dated() {
    return { run: this.runs.count('dated') };
  }

  /** Under the per-site cache. */
  @Get('site')
  site() {
    return { run: this.runs.count('site') };
  }
}

@Module({
  imports: [
    CacheModule.forRoot(
      { default: { backend: 'locmem', location: `conditional-${Math.random()}` } },
      { site: { timeout: 60 } },
    ),
  ],
  controllers: [ConditionalController],
  providers: [Runs],
})
class ConditionalModule {}

describe.each(ADAPTERS)('a conditional first request on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let runs: Runs;
  const get = (path: string) => request(url).get(path);

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, ConditionalModule));
    runs = app.get(Runs);
  });

  afterAll(async () => {
    await app?.close();
  });

  beforeEach(async () => {
    await app.get(Caches).get('default').clear();
  });

  it.each(['/conditional/tagged', '/conditional/site'])(
    'with If-None-Match: * stores the page and answers 304 (%s)',
    async (path) => {
      const before = runs.of(path.split('/')[2]!);
      const first = await get(path).set('If-None-Match', '*').expect(304);
      expect(first.headers['x-cache']).toBe('MISS');
      expect(first.text).toBe('');
      expect(first.headers['content-type']).toBeUndefined();
      expect(first.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
      const next = await get(path).expect(200);
      expect(next.headers['x-cache']).toBe('HIT');
      expect(next.headers.etag).toBe(first.headers.etag);
      expect(JSON.parse(next.text).run).toBe(before + 1);
      expect(runs.of(path.split('/')[2]!)).toBe(before + 1);
    },
  );

  it('with a matching tag stores the page and answers 304; another tag gets the page', async () => {
    const { etag } = (await get('/conditional/constant').expect(200)).headers;
    await app.get(Caches).get('default').clear();
    const before = runs.of('constant');
    const first = await get('/conditional/constant').set('If-None-Match', etag!).expect(304);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.headers.etag).toBe(etag);
    expect((await get('/conditional/constant').expect(200)).headers['x-cache']).toBe('HIT');
    const other = await get('/conditional/constant').set('If-None-Match', '"other"').expect(200);
    expect(other.headers['x-cache']).toBe('HIT');
    expect(runs.of('constant')).toBe(before + 1);
  });

  it('with If-Modified-Since stores the page and answers 304 when it is not older', async () => {
    const before = runs.of('dated');
    const first = await get('/conditional/dated').set('If-Modified-Since', 'Thu, 02 Jan 2025 00:00:00 GMT');
    expect(first.status).toBe(304);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.headers['last-modified']).toBe(LAST_MODIFIED);
    const hit = await get('/conditional/dated').set('If-Modified-Since', LAST_MODIFIED).expect(304);
    expect(hit.headers['x-cache']).toBe('HIT');
    const older = await get('/conditional/dated').set('If-Modified-Since', 'Tue, 31 Dec 2024 00:00:00 GMT');
    expect(older.status).toBe(200);
    expect(older.headers['x-cache']).toBe('HIT');
    expect(runs.of('dated')).toBe(before + 1);
  });

  it('with a tag that does not match stores the page and answers 200', async () => {
    const first = await get('/conditional/tagged').set('If-None-Match', '"other"').expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect((await get('/conditional/tagged').expect(200)).headers['x-cache']).toBe('HIT');
  });
});
