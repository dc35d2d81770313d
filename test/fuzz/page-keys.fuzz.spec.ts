import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Req, type INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import fc from 'fast-check';
import { CacheModule, Caches } from '../../lib/index.js';
import { pageAddressOf } from '../../lib/http/page-keys.js';
import { ADAPTERS, startApp, type AdapterName } from '../http/app/http-app.js';
import { rawRequest } from '../http/app/raw-request.js';

// The characters that once moved one part of a key into the next.
const DELIMITERS = ['#', '://', '?', '%', '%23', '/', ':', '=', '&', '"', '\\', 'host=', ',', 'a', 'b'];
const part = (maxLength: number) =>
  fc.array(fc.constantFrom(...DELIMITERS), { maxLength }).map((pieces) => pieces.join(''));

describe('pageAddressOf', () => {
  it('gives two requests one address only when every part is the same', () => {
    const request = fc.record({
      scheme: fc.oneof(fc.constantFrom('http', 'https'), part(3)),
      host: fc.option(part(4), { nil: undefined }),
      hostHeader: fc.option(part(4), { nil: undefined }),
      target: part(6).map((rest) => `/${rest}`),
    });
    // A Host header equal to the host says nothing more.
    const parts = (r: { scheme: string; host?: string; hostHeader?: string; target: string }) =>
      JSON.stringify([r.scheme, r.host ?? null, r.hostHeader === r.host ? 'same' : (r.hostHeader ?? null), r.target]);
    fc.assert(
      fc.property(request, request, (a, b) => {
        const same =
          pageAddressOf(a.scheme, a.host, a.hostHeader, a.target) ===
          pageAddressOf(b.scheme, b.host, b.hostHeader, b.target);
        expect(same).toBe(parts(a) === parts(b));
      }),
      { numRuns: 5000 },
    );
  });
});

/** Echoes what the framework reports of the request: all a page of this route may depend on. */
function echoModule(adapter: AdapterName) {
  @Controller('p')
  class EchoController {
    // Each platform's way of saying "any path below".
    @Get(adapter === 'fastify' ? '*' : '*path')
    echo(
      @Req()
      request: {
        protocol: string;
        host?: string;
        headers: Record<string, unknown>;
        url: string;
        baseUrl?: string;
      },
    ) {
      return {
        protocol: request.protocol,
        host: request.host ?? null,
        hostHeader: request.headers.host ?? null,
        url: `${request.baseUrl ?? ''}${request.url}`,
      };
    }
  }

  @Module({
    imports: [
      CacheModule.forRoot(
        { default: { backend: 'locmem', location: `page-keys-fuzz-${Math.random()}` } },
        { site: { timeout: 60 } },
      ),
    ],
    controllers: [EchoController],
  })
  class EchoModule {}
  return EchoModule;
}

describe.each(ADAPTERS)('random request pairs on %s, behind a trusted proxy', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(
      adapter,
      echoModule(adapter),
      (nest) => adapter === 'express' && (nest as NestExpressApplication).set('trust proxy', true),
      { trustProxy: true },
    ));
  });

  afterAll(() => app?.close());

  // Values a few delimiters apart, so that pairs often differ only in where one part ends.
  const request = fc.record({
    proto: fc.option(
      fc.oneof(fc.constantFrom('http', 'https', 'http://a.test/p/x?y=http', 'https:', 'http,https'), part(2)),
      { nil: undefined },
    ),
    forwardedHost: fc.option(fc.constantFrom('a.test', 'b.test', 'a.test:80'), { nil: undefined }),
    host: fc.constantFrom('a.test', 'b.test', 'a.test:80', 'a.test/p/x?y=', 'a.test#host=b.test'),
    path: fc.oneof(
      fc.constantFrom('/p/x', '/p/x#host=b.test', '/p/x#host=a.test', '/p/x?y=http://a.test/p/x', '/p/x%23'),
      part(4).map((rest) => `/p/x${rest}`),
    ),
  });
  type Sent = { proto?: string; forwardedHost?: string; host: string; path: string };
  // The second request keeps some of the first one's parts: pairs are often alike, or one part apart.
  const alike = fc
    .tuple(request, request, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }))
    .map(([a, other, keep]): [Sent, Sent] => {
      const b = { ...other };
      (['proto', 'forwardedHost', 'host', 'path'] as const).forEach((field, i) => {
        if (keep[i]) (b as Record<string, unknown>)[field] = a[field];
      });
      return [a, b];
    });
  // Or the second one cuts the first one's parts, written one after another, in other places:
  // the same text, other parts.
  const recut = fc.tuple(request, fc.nat()).map(([a, choice]): [Sent, Sent] => {
    const host = a.forwardedHost ?? a.host;
    const differing = a.forwardedHost !== undefined && a.forwardedHost !== a.host ? `#host=${a.host}` : '';
    const text = `${a.proto ?? 'http'}://${host}${a.path}${differing}`;
    const cuts: Sent[] = [];
    for (let i = text.indexOf('://'); i !== -1; i = text.indexOf('://', i + 1)) {
      const rest = text.slice(i + 3);
      for (let k = rest.indexOf('/p/x'); k !== -1; k = rest.indexOf('/p/x', k + 1)) {
        cuts.push({ proto: text.slice(0, i), host: rest.slice(0, k), path: rest.slice(k) });
      }
    }
    return [a, cuts[choice % cuts.length]!];
  });
  const pair = fc.oneof(alike, recut);
  const send = (sent: Sent) => {
    const headers: Record<string, string> = { host: sent.host };
    if (sent.proto !== undefined) headers['x-forwarded-proto'] = sent.proto;
    if (sent.forwardedHost !== undefined) headers['x-forwarded-host'] = sent.forwardedHost;
    return rawRequest(url, { path: sent.path, headers });
  };
  const clear = () => app.get(Caches).get('default').clear();

  it("answers a request with another's page only when the framework reports both the same", async () => {
    await fc.assert(
      fc.asyncProperty(pair, async ([a, b]) => {
        await clear();
        const alone = await send(b); // what b's own page says
        await clear();
        const first = await send(a);
        const second = await send(b);
        if (first.status !== 200 || alone.status !== 200) return;
        const cached = second.headers['x-cache'] === 'HIT';
        if (cached) expect(second.text).toBe(alone.text);
        // And a page is found again by the same report, when it was kept.
        if (first.headers['x-cache'] === 'MISS' && first.text === alone.text) expect(cached).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
