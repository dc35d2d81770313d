import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheModule } from '../../lib/index.js';
import { ADAPTERS, startApp } from './app/http-app.js';
import { AllowHeaderGuard, PagesController, Runs, StreamsController, WholeController } from './app/pages.controller.js';

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'page-cache-e2e', timeout: 300 } })],
  controllers: [PagesController, WholeController, StreamsController],
  providers: [Runs, AllowHeaderGuard],
})
class PagesModule {}

/** `Server-Timing` as every response the page cache handles carries it, naming what it did. */
const timing = (status: string) => new RegExp(`^cache;desc="${status}";dur=\\d+\\.\\d\\d$`);

describe.each(ADAPTERS)('@CachePage on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let runs: Runs;
  const get = (path: string) => request(url).get(path);

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, PagesModule));
    runs = app.get(Runs);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('answers a repeat GET from the cache: same bytes, HIT, Age, no handler run', async () => {
    const miss = await get('/pages/counted').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers.age).toBeUndefined();
    expect(miss.headers['server-timing']).toMatch(timing('MISS'));
    const hit = await get('/pages/counted').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.age).toMatch(/^\d+$/);
    expect(hit.headers['server-timing']).toMatch(timing('HIT'));
    expect(hit.text).toBe(miss.text);
    expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
    expect(hit.headers['content-length']).toBe(String(Buffer.byteLength(miss.text)));
    expect(runs.of('counted')).toBe(1);
  });

  it('keys by the query string', async () => {
    const a = await get('/pages/counted?q=a').expect(200);
    const b = await get('/pages/counted?q=b').expect(200);
    expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'MISS']);
    expect(a.body.q).toBe('a');
    expect(b.body.q).toBe('b');
    expect((await get('/pages/counted?q=a')).headers['x-cache']).toBe('HIT');
  });

  it('keeps non-JSON bodies byte for byte', async () => {
    const miss = await get('/pages/text').expect(200);
    const hit = await get('/pages/text').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe(miss.text);
    expect(hit.text).toContain('ünïcödé');
    expect(hit.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('adds Expires, max-age and a strong ETag to stored pages, and answers If-None-Match with 304', async () => {
    const miss = await get('/pages/max-age').expect(200);
    // Kept for @CachePage(60), over the handler's max-age=30: the headers say how long.
    expect(miss.headers['cache-control']).toBe('max-age=60');
    expect(new Date(miss.headers.expires!).getTime()).toBeGreaterThan(Date.now());
    const etag = miss.headers.etag!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const notModified = await get('/pages/max-age').set('If-None-Match', etag).expect(304);
    expect(notModified.headers['x-cache']).toBe('HIT');
    expect(notModified.headers['server-timing']).toMatch(timing('HIT'));
    expect(notModified.headers.etag).toBe(etag);
    expect(notModified.headers['cache-control']).toBe('max-age=60');
    expect(notModified.text).toBe('');
    const weakMatch = await get('/pages/max-age').set('If-None-Match', `"other", W/${etag}`).expect(304);
    expect(weakMatch.headers['x-cache']).toBe('HIT');
    await get('/pages/max-age').set('If-None-Match', '"other"').expect(200);
    expect(runs.of('max-age')).toBe(1);
  });

  it('serves a HEAD from a stored GET, but never a GET from a stored HEAD', async () => {
    await get('/pages/counted?q=head').expect(200);
    const head = await request(url).head('/pages/counted?q=head').expect(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(1000);
    const headFirst = await request(url).head('/pages/counted?q=head-first').expect(200);
    expect(headFirst.headers['x-cache']).toBe('MISS');
    expect((await request(url).head('/pages/counted?q=head-first')).headers['x-cache']).toBe('HIT');
    const getAfter = await get('/pages/counted?q=head-first').expect(200);
    expect(getAfter.headers['x-cache']).toBe('MISS');
    expect(getAfter.body.q).toBe('head-first');
  });

  it('bypasses other methods', async () => {
    const first = await request(url).post('/pages/counted').expect(201);
    const second = await request(url).post('/pages/counted').expect(201);
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['BYPASS', 'BYPASS']);
    expect(second.headers['server-timing']).toMatch(timing('BYPASS'));
    expect(runs.of('post')).toBe(2);
  });

  it.each([
    ['private', 'Cache-Control: private'],
    ['no-store', 'Cache-Control: no-store'],
    ['no-cache', 'Cache-Control: no-cache'],
    ['vary-star', 'Vary: *'],
    ['accepted', 'a status other than 200'],
    ['sets-cookie', 'a Set-Cookie without public'],
    ['zero', 'a timeout of 0'],
  ])('does not store /pages/%s (%s)', async (route) => {
    const first = await get(`/pages/${route}`);
    const second = await get(`/pages/${route}`);
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['BYPASS', 'BYPASS']);
    expect([first.headers['server-timing'], second.headers['server-timing']]).toEqual([
      expect.stringMatching(timing('BYPASS')),
      expect.stringMatching(timing('BYPASS')),
    ]);
    expect(runs.of(route)).toBe(2);
  });

  it.each([
    ['written', 'run N, written in two chunks'],
    ['piped', 'run N, piped'],
    ['streamable', 'run N, a StreamableFile'],
  ])('does not store a streamed response (/streams/%s), and says so', async (route, body) => {
    for (const run of [1, 2]) {
      const response = await get(`/streams/${route}`).expect(200);
      expect(response.text).toBe(body.replace('N', String(run)));
      expect(response.headers['x-cache']).toBe('BYPASS');
      expect(response.headers['server-timing']).toMatch(timing('BYPASS'));
      expect(response.headers.etag).toBeUndefined();
    }
    expect(runs.of(route)).toBe(2);
  });

  it('stores a body written to the platform response in one piece', async () => {
    const miss = await get('/streams/ended').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    const hit = await get('/streams/ended').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe('run 1, in one piece');
    expect(runs.of('ended')).toBe(1);
  });

  it('does not store errors', async () => {
    await get('/pages/missing').expect(404);
    const again = await get('/pages/missing').expect(404);
    expect(again.headers['x-cache']).toBe('BYPASS');
    expect(again.headers['server-timing']).toMatch(timing('BYPASS'));
    expect(runs.of('missing')).toBe(2);
  });

  it('marks a timeout of 0 as not to be kept, as Django does', async () => {
    const response = await get('/pages/zero').expect(200);
    expect(response.headers['cache-control']).toBe('max-age=0');
  });

  it('stores a public response that sets a cookie, but never replays the cookie', async () => {
    const miss = await get('/pages/sets-cookie-public').expect(200);
    expect(miss.headers['set-cookie']).toEqual(['theme=1']);
    const hit = await get('/pages/sets-cookie-public').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['set-cookie']).toBeUndefined();
  });

  it("does not store a cookie set for a request without cookies when the response varies on Cookie (Django's rule)", async () => {
    for (const run of [1, 2]) {
      const response = await get('/pages/sets-cookie-varying').expect(200);
      expect(response.headers['x-cache']).toBe('BYPASS');
      expect(response.headers['set-cookie']).toEqual([`session=${run}; HttpOnly`]);
    }
    // A request that brought cookies keys the page by them: stored, and the cookie never replayed.
    const miss = await get('/pages/sets-cookie-varying').set('Cookie', 'session=2').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    const hit = await get('/pages/sets-cookie-varying').set('Cookie', 'session=2').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['set-cookie']).toBeUndefined();
    expect(hit.body.run).toBe(3);
    expect(runs.of('sets-cookie-varying')).toBe(3);
  });

  it("never serves one user's response to another (Authorization)", async () => {
    const anonymous = await get('/pages/whoami').expect(200);
    expect(anonymous.body.user).toBe('anonymous');
    const alice = await get('/pages/whoami').set('Authorization', 'Bearer alice').expect(200);
    expect(alice.body.user).toBe('Bearer alice');
    expect(alice.headers['x-cache']).toBe('BYPASS');
    const bob = await get('/pages/whoami').set('Authorization', 'Bearer bob').expect(200);
    expect(bob.body.user).toBe('Bearer bob');
    expect(bob.headers['x-cache']).toBe('BYPASS');
    const anonymousAgain = await get('/pages/whoami').expect(200);
    expect(anonymousAgain.headers['x-cache']).toBe('HIT');
    expect(anonymousAgain.body.user).toBe('anonymous');
  });

  it('keeps one copy per user when the response varies on Authorization', async () => {
    const alice = await get('/pages/whoami-varying').set('Authorization', 'Bearer alice').expect(200);
    const bob = await get('/pages/whoami-varying').set('Authorization', 'Bearer bob').expect(200);
    expect([alice.headers['x-cache'], bob.headers['x-cache']]).toEqual(['MISS', 'MISS']);
    expect(alice.headers.vary).toMatch(/Authorization/i);
    const aliceAgain = await get('/pages/whoami-varying').set('Authorization', 'Bearer alice').expect(200);
    const bobAgain = await get('/pages/whoami-varying').set('Authorization', 'Bearer bob').expect(200);
    expect([aliceAgain.headers['x-cache'], bobAgain.headers['x-cache']]).toEqual(['HIT', 'HIT']);
    expect(aliceAgain.body.user).toBe('Bearer alice');
    expect(bobAgain.body.user).toBe('Bearer bob');
    const anonymous = await get('/pages/whoami-varying').expect(200);
    expect(anonymous.body.user).toBe('anonymous');
  });

  it('shares a public response with everyone, credentials or not', async () => {
    await get('/pages/whoami-public').set('Authorization', 'Bearer alice').expect(200);
    const bob = await get('/pages/whoami-public').set('Authorization', 'Bearer bob').expect(200);
    expect(bob.headers['x-cache']).toBe('HIT');
    expect(bob.body.user).toBe('Bearer alice'); // what `public` means
  });

  it('does not serve a page stored for anonymous visitors to a request with cookies', async () => {
    await get('/pages/counted?q=cookies').expect(200);
    const withCookie = await get('/pages/counted?q=cookies').set('Cookie', 'session=alice').expect(200);
    expect(withCookie.headers['x-cache']).toBe('BYPASS');
    expect((await get('/pages/counted?q=cookies')).headers['x-cache']).toBe('HIT');
  });

  it('keeps one copy per cookie with @VaryOnCookie', async () => {
    const alice = await get('/pages/by-cookie').set('Cookie', 'session=alice').expect(200);
    const bob = await get('/pages/by-cookie').set('Cookie', 'session=bob').expect(200);
    expect([alice.headers['x-cache'], bob.headers['x-cache']]).toEqual(['MISS', 'MISS']);
    const aliceAgain = await get('/pages/by-cookie').set('Cookie', 'session=alice').expect(200);
    expect(aliceAgain.headers['x-cache']).toBe('HIT');
    expect(aliceAgain.body.cookie).toBe('session=alice');
  });

  it('keys by the headers named in Vary (learned per URL)', async () => {
    const en = await get('/pages/language').set('Accept-Language', 'en').expect(200);
    const fr = await get('/pages/language').set('Accept-Language', 'fr').expect(200);
    expect([en.headers['x-cache'], fr.headers['x-cache']]).toEqual(['MISS', 'MISS']);
    expect(en.headers.vary).toBe('Accept-Language');
    const frAgain = await get('/pages/language').set('Accept-Language', 'fr').expect(200);
    expect(frAgain.headers['x-cache']).toBe('HIT');
    expect(frAgain.body.language).toBe('fr');
  });

  it('reads a varying header whatever its name, even one a plain object inherits (found by fuzzing)', async () => {
    const response = await get('/pages/vary-odd').set('Accept-Language', 'en').expect(200);
    expect(response.headers.vary).toBe('constructor, __proto__, Accept-Language');
    expect((await get('/pages/vary-odd').set('Accept-Language', 'en')).headers['x-cache']).toBe('HIT');
  });

  it('still runs guards before a would-be hit', async () => {
    await get('/pages/guarded').set('X-Allow', 'yes').expect(200);
    const hit = await get('/pages/guarded').set('X-Allow', 'yes').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    await get('/pages/guarded').expect(403);
    expect(runs.of('guarded')).toBe(1);
  });

  it('runs neither the handler nor an interceptor inside @CachePage on a hit, and sends the stored bytes', async () => {
    const miss = await get('/pages/serialized').set('X-Allow', 'yes').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.body).toMatchObject({ run: 1, serialized: 1 });
    for (let i = 0; i < 2; i++) {
      const hit = await get('/pages/serialized').set('X-Allow', 'yes').expect(200);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.text).toBe(miss.text);
    }
    await get('/pages/serialized').expect(403); // answered in Nest's pipeline, after the guard
    expect(runs.of('serialized')).toBe(1);
    expect(runs.of('serializer')).toBe(1);
  });

  it('runs the handler once for 100 concurrent cold requests', async () => {
    const responses = await Promise.all(Array.from({ length: 100 }, () => get('/pages/slow')));
    expect(runs.of('slow')).toBe(1);
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(new Set(responses.map((response) => response.text)).size).toBe(1);
    const statuses = responses.map((response) => response.headers['x-cache']);
    expect(statuses.filter((status) => status === 'MISS')).toHaveLength(1);
    expect(statuses.filter((status) => status === 'HIT')).toHaveLength(99);
  });

  it('answers STALE from the old page while one request recomputes it', async () => {
    const first = await get('/pages/stale').expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.body.run).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const during = await Promise.all(Array.from({ length: 5 }, () => get('/pages/stale')));
    const statuses = during.map((response) => response.headers['x-cache']).sort();
    expect(statuses).toEqual(['MISS', 'STALE', 'STALE', 'STALE', 'STALE']);
    for (const response of during) {
      expect(response.body.run).toBe(response.headers['x-cache'] === 'MISS' ? 2 : 1);
      expect(response.headers['server-timing']).toMatch(timing(response.headers['x-cache']!));
    }
    const after = await get('/pages/stale').expect(200);
    expect(after.headers['x-cache']).toBe('HIT');
    expect(after.body.run).toBe(2);
    expect(runs.of('stale')).toBe(2);
  });

  it('gives the same result whatever the order of the decorators', async () => {
    const one = await get('/pages/stacked-one').set('Accept-Language', 'en').expect(200);
    const two = await get('/pages/stacked-two').set('Accept-Language', 'en').expect(200);
    for (const name of ['cache-control', 'vary', 'x-cache']) expect(one.headers[name]).toBe(two.headers[name]);
    expect(one.headers['cache-control']).toBe('public, max-age=60');
    expect(one.headers.vary).toBe('Accept-Language, Cookie');
  });

  it("applies Django's header decorators without @CachePage", async () => {
    const response = await get('/pages/header-only').expect(200);
    expect(response.headers['cache-control']).toBe('public, max-age=300');
    expect(response.headers.vary).toBe('Accept-Language');
    expect(response.headers['x-cache']).toBeUndefined();
    const never = await get('/pages/never').expect(200);
    expect(never.headers['cache-control']).toBe('max-age=0, no-cache, no-store, must-revalidate, private');
    expect(new Date(never.headers.expires!).getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('caches every route of a controller with a class-level @CachePage; @NeverCache opts out', async () => {
    await get('/whole/one').expect(200);
    expect((await get('/whole/one')).headers['x-cache']).toBe('HIT');
    await get('/whole/opted-out').expect(200);
    const optedOut = await get('/whole/opted-out').expect(200);
    expect(optedOut.headers['x-cache']).toBeUndefined();
    expect(optedOut.headers['cache-control']).toContain('no-store');
    expect(runs.of('whole-opted-out')).toBe(2);
  });
});
