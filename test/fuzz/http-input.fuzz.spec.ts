import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Query, Res, type INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import request from 'supertest';
import { CacheModule, CachePage } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../http/app/http-app.js';

@Controller('fuzz')
class FuzzController {
  @Get('plain')
  @CachePage(60)
  plain() {
    return { ok: true };
  }

  /** Varies on whatever header names the query lists: a response with a hostile `Vary`. */
  @Get('vary')
  @CachePage(60)
  vary(@Query('names') names: string, @Res({ passthrough: true }) response: { header(n: string, v: string): unknown }) {
    response.header('Vary', names);
    return { names };
  }
}

@Module({
  imports: [
    CacheModule.forRoot({
      default: { backend: 'locmem', location: `http-fuzz-${Math.random()}`, options: { maxEntries: 5000 } },
    }),
  ],
  controllers: [FuzzController],
})
class FuzzModule {}

const token = fc.stringMatching(/^[A-Za-z0-9-]{1,30}$/);

describe.each(ADAPTERS)('hostile requests on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, FuzzModule));
  });

  afterAll(() => app?.close());

  it('answers any Host header; only well-formed ones are cached', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({
          unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
          minLength: 1,
          maxLength: 300,
        }),
        async (host) => {
          const response = await request(url).get('/fuzz/plain').set('Host', host);
          expect(response.status).toBe(200);
          expect(['MISS', 'HIT', 'BYPASS']).toContain(response.headers['x-cache']);
          if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) expect(response.headers['x-cache']).toBe('BYPASS');
        },
      ),
      { numRuns: 100 },
    );
  });

  it('answers responses that vary on hundreds of headers, and keys them by those headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(token, { minLength: 1, maxLength: 300 }),
        fc.string({ maxLength: 20 }),
        async (names, value) => {
          const path = `/fuzz/vary?names=${encodeURIComponent(names.join(', '))}`;
          const first = await request(url)
            .get(path)
            .set(names[0]!, value.replace(/[^\x20-\x7e]/g, ''));
          expect(first.status).toBe(200);
          const again = await request(url)
            .get(path)
            .set(names[0]!, value.replace(/[^\x20-\x7e]/g, ''));
          expect(again.status).toBe(200);
          expect(again.body).toEqual(first.body);
          expect(['MISS', 'HIT', 'BYPASS']).toContain(again.headers['x-cache']);
        },
      ),
      { numRuns: 40 },
    );
  });
});
