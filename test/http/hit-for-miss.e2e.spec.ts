import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Headers, Module, NotFoundException, Param, Res, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheModule, CachePage, Caches } from '../../lib/index.js';
import { ADAPTERS, startApp } from './app/http-app.js';

/** How long a handler waits for the others of its burst before it gives up on them. */
const GATHER_MS = 1500;
const BURST = 5;

/** Handlers running now, and what a test switches the `switching` route to. */
const state = { running: 0, runs: 0, switching: 'private' as 'private' | 'cacheable' };

/**
 * Waits until `together` handlers run at once (or gives up): a burst whose requests all say they
 * met went to the handler side by side, none waiting for another's response.
 */
async function gather(together: number): Promise<boolean> {
  state.running++;
  state.runs++;
  const deadline = Date.now() + GATHER_MS;
  while (state.running < together && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const met = state.running >= together;
  // Stays counted a little longer, so that the last to arrive is still seen by the others.
  await new Promise((resolve) => setTimeout(resolve, 50));
  state.running--;
  return met;
}

interface Reply {
  header(name: string, value: string): unknown;
}

/** Each kind of response the page cache must not keep, at its own URL, and one route that changes. */
@Controller('hfm')
class HitForMissController {
  @Get(':kind')
  @CachePage(60)
  async page(
    @Param('kind') kind: string,
    @Headers('x-together') together: string | undefined,
    @Res({ passthrough: true }) reply: Reply,
  ) {
    const met = await gather(Number(together ?? 1));
    const shape = kind === 'switching' ? state.switching : kind;
    if (shape === 'private') reply.header('cache-control', 'private');
    if (shape === 'no-store') reply.header('cache-control', 'no-store');
    if (shape === 'set-cookie') reply.header('set-cookie', 'session=1');
    if (shape === 'vary-star') reply.header('vary', '*');
    if (shape === 'not-found') throw new NotFoundException({ met });
    return { met, at: Date.now() };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `hit-for-miss-${Math.random()}` } })],
  controllers: [HitForMissController],
})
class HitForMissModule {}

describe.each(ADAPTERS)('hit-for-miss on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, HitForMissModule));
  });

  afterAll(async () => {
    await app?.close();
  });

  const burst = (path: string, headers: Record<string, string> = {}) =>
    Promise.all(
      Array.from({ length: BURST }, () => {
        const call = request(url).get(path).set('x-together', String(BURST));
        for (const [name, value] of Object.entries(headers)) call.set(name, value);
        return call;
      }),
    );

  it.each([
    ['private', 'Cache-Control: private', 200],
    ['no-store', 'Cache-Control: no-store', 200],
    ['set-cookie', 'a Set-Cookie without public', 200],
    ['vary-star', 'Vary: *', 200],
    ['not-found', 'a status other than 200', 404],
  ])('after a %s response (%s), the next requests run side by side, none waiting', async (kind, _why, status) => {
    const first = await request(url).get(`/hfm/${kind}`).expect(status);
    expect(first.headers['x-cache']).toBe('BYPASS');
    const responses = await burst(`/hfm/${kind}`);
    for (const response of responses) {
      expect(response.status).toBe(status);
      expect(response.headers['x-cache']).toBe('BYPASS');
      expect(response.body.met ?? response.body.message?.met).toBe(true);
    }
  });

  it('runs requests with a cookie the page does not vary on side by side, even on a cold page', async () => {
    const responses = await burst('/hfm/plain-with-cookies', { cookie: 'session=abc' });
    for (const response of responses) {
      expect(response.headers['x-cache']).toBe('BYPASS');
      expect(response.body.met).toBe(true);
    }
  });

  it('coalesces again once a response of the variant is kept', async () => {
    state.switching = 'private';
    await request(url).get('/hfm/switching').expect(200);
    state.switching = 'cacheable';
    expect((await request(url).get('/hfm/switching')).headers['x-cache']).toBe('MISS');
    // Dropped from the store: the next burst is a cold miss, which one handler run answers.
    await app.get(Caches).default.clear();
    const before = state.runs;
    const responses = await Promise.all(Array.from({ length: BURST }, () => request(url).get('/hfm/switching')));
    expect(state.runs - before).toBe(1);
    expect(responses.map((response) => response.headers['x-cache']).sort()).toEqual([
      'HIT',
      'HIT',
      'HIT',
      'HIT',
      'MISS',
    ]);
  });
});
