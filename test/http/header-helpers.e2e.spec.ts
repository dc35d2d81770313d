import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Headers, Module, Res, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import {
  addNeverCacheHeaders,
  CacheModule,
  CachePage,
  getMaxAge,
  hasVaryHeader,
  patchCacheControl,
  patchResponseHeaders,
  patchVaryHeaders,
  type PatchableResponse,
} from '../../lib/index.js';
import { ADAPTERS, startApp } from './app/http-app.js';

let runs = 0;

/** Handlers that patch their own headers with Django's helpers, as a Django view would. */
@Controller('helpers')
class HelpersController {
  @Get('patched')
  patched(@Res({ passthrough: true }) response: PatchableResponse) {
    patchCacheControl(response, { private: true, maxAge: 600 });
    patchCacheControl(response, { public: true, maxAge: 900, private: false }); // max-age never rises
    patchVaryHeaders(response, ['Accept-Language']);
    patchVaryHeaders(response, ['accept-language', 'Accept-Encoding']);
    return {
      maxAge: getMaxAge(response),
      variesOnLanguage: hasVaryHeader(response, 'ACCEPT-LANGUAGE'),
      variesOnCookie: hasVaryHeader(response, 'Cookie'),
    };
  }

  @Get('expiring')
  expiring(@Res({ passthrough: true }) response: PatchableResponse) {
    patchResponseHeaders(response, 120);
    return { ok: true };
  }

  @Get('never')
  never(@Res({ passthrough: true }) response: PatchableResponse) {
    addNeverCacheHeaders(response);
    return { ok: true };
  }

  // The page cache reads what the helpers wrote: a language-varying page, one copy per language.
  @Get('page')
  @CachePage(60)
  page(@Headers('accept-language') language: string, @Res({ passthrough: true }) response: PatchableResponse) {
    runs++;
    patchVaryHeaders(response, ['Accept-Language']);
    return { language };
  }

  @Get('never-page')
  @CachePage(60)
  neverPage(@Res({ passthrough: true }) response: PatchableResponse) {
    runs++;
    addNeverCacheHeaders(response);
    return { ok: true };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `header-helpers-${Math.random()}` } })],
  controllers: [HelpersController],
})
class HelpersModule {}

describe.each(ADAPTERS)("Django's header helpers on %s", (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, HelpersModule));
  });

  afterAll(() => app?.close());

  it('patch Cache-Control and Vary as Django does, and read them back', async () => {
    const response = await request(url).get('/helpers/patched').expect(200);
    expect(response.headers['cache-control']).toBe('max-age=600, public');
    expect(response.headers.vary).toBe('Accept-Language, Accept-Encoding');
    expect(response.body).toEqual({ maxAge: 600, variesOnLanguage: true, variesOnCookie: false });
  });

  it('set Expires and max-age, or the never-cache headers', async () => {
    const before = Date.now();
    const expiring = await request(url).get('/helpers/expiring').expect(200);
    expect(expiring.headers['cache-control']).toBe('max-age=120');
    const expires = Date.parse(expiring.headers.expires!);
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 119_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 121_000);
    const never = await request(url).get('/helpers/never').expect(200);
    expect(never.headers['cache-control']).toBe('max-age=0, no-cache, no-store, must-revalidate, private');
    expect(Date.parse(never.headers.expires!)).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('are what the page cache reads: Vary keys the page, never-cache keeps it out', async () => {
    runs = 0;
    const page = (language: string) => request(url).get('/helpers/page').set('accept-language', language);
    expect((await page('fr')).headers['x-cache']).toBe('MISS');
    expect((await page('de')).headers['x-cache']).toBe('MISS');
    const french = await page('fr');
    expect([french.headers['x-cache'], french.body.language]).toEqual(['HIT', 'fr']);
    expect(runs).toBe(2);
    await request(url).get('/helpers/never-page').expect(200);
    const again = await request(url).get('/helpers/never-page').expect(200);
    expect(again.headers['x-cache']).toBe('BYPASS');
    expect(runs).toBe(4);
  });
});
