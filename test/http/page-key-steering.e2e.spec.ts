import 'reflect-metadata';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Body, Controller, Get, Module, Post, Req, type INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CacheModule, CachePage, Caches } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName } from './app/http-app.js';
import { Runs } from './app/pages.controller.js';
import { rawRequest } from './app/raw-request.js';

/** What each handler saw of its request, as Express and Fastify both report it. */
interface SeenRequest {
  protocol: string;
  host: string | undefined;
  headers: Record<string, string | undefined>;
}

const MODES = ['per-site', 'decorator'] as const;
type Mode = (typeof MODES)[number];

function shopController(mode: Mode) {
  @Controller('shop')
  class ShopController {
    constructor(private readonly runs: Runs) {}

    /** Links built from the scheme and host the framework reports, as templates do. */
    @Get('links')
    links(@Req() request: SeenRequest) {
      return { page: 'links', home: `${request.protocol}://${request.host}/`, run: this.runs.count('links') };
    }

    @Get('login')
    login() {
      return { page: 'login', run: this.runs.count('login') };
    }

    @Get('whoami')
    whoami(@Req() request: SeenRequest) {
      return { hostHeader: request.headers.host, run: this.runs.count('whoami') };
    }

    /** A handler that reads a GET's body (Express parses it; Fastify does not). */
    @Get('greeting')
    greeting(@Body() body: { name?: string } | undefined) {
      return { text: `hello ${body?.name ?? 'world'}`, run: this.runs.count('greeting') };
    }

    @Post('greeting')
    postGreeting(@Body() body: { name?: string } | undefined) {
      return { text: `posted ${body?.name ?? 'nobody'}`, run: this.runs.count('post-greeting') };
    }
  }
  if (mode === 'decorator') CachePage(60)(ShopController);
  return ShopController;
}

function shopModule(mode: Mode) {
  const caches = { default: { backend: 'locmem' as const, location: `steering-${mode}-${Math.random()}` } };
  @Module({
    imports: [CacheModule.forRoot(caches, mode === 'per-site' ? { site: { timeout: 60 } } : {})],
    controllers: [shopController(mode)],
    providers: [Runs],
  })
  class ShopModule {}
  return ShopModule;
}

/**
 * A method-override middleware as the `method-override` package writes one (`originalMethod`
 * kept), and one that rewrites `req.method` alone.
 */
function overrideMethods(request: IncomingMessage & { originalMethod?: string }, _: ServerResponse, next: () => void) {
  const kept = request.headers['x-http-method-override'];
  const bare = request.headers['x-rewrite-method'];
  if (typeof kept === 'string') {
    request.originalMethod = request.originalMethod ?? request.method;
    request.method = kept;
  } else if (typeof bare === 'string') {
    request.method = bare;
  }
  next();
}

/** Trust proxy on, and the method-override middleware, on either platform. */
async function startShop(adapter: AdapterName, mode: Mode) {
  return startApp(
    adapter,
    shopModule(mode),
    (nest) => {
      if (adapter === 'express') (nest as NestExpressApplication).set('trust proxy', true);
      nest.use(overrideMethods);
    },
    { trustProxy: true },
  );
}

const json = 'application/json';

describe.each(ADAPTERS.flatMap((adapter) => MODES.map((mode) => [adapter, mode] as const)))(
  'page keys that requests cannot steer, on %s with the %s cache',
  (adapter, mode) => {
    let app: INestApplication;
    let url: string;
    let runs: Runs;
    const send = (path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) =>
      rawRequest(url, { method, path, headers: { host: 'shop.example', ...headers }, body });

    beforeAll(async () => {
      ({ app, url } = await startShop(adapter, mode));
      runs = app.get(Runs);
    });

    afterAll(async () => {
      await app?.close();
    });

    beforeEach(async () => {
      await app.get(Caches).get('default').clear();
    });

    it('does not cache a scheme other than http or https, and X-Forwarded-Proto cannot reach another page', async () => {
      // The old key `${scheme}://${host}${path}` made both of these "http://shop.example/login?next=http://shop.example/links".
      const poisoned = await send('/shop/links', { 'x-forwarded-proto': 'http://shop.example/login?next=http' });
      expect(poisoned.headers['x-cache']).toBe('BYPASS');
      const victim = await send('/shop/login?next=http://shop.example/links');
      expect(JSON.parse(victim.text).page).toBe('login');
      expect(victim.headers['x-cache']).toBe('MISS');
    });

    it('keeps http and https apart, and answers the same scheme from the cache', async () => {
      const before = runs.of('links');
      const secure = await send('/shop/links', { 'x-forwarded-proto': 'https' });
      expect(JSON.parse(secure.text).home).toBe('https://shop.example/');
      const plain = await send('/shop/links', { 'x-forwarded-proto': 'http' });
      expect(JSON.parse(plain.text).home).toBe('http://shop.example/');
      expect((await send('/shop/links', { 'x-forwarded-proto': 'https' })).headers['x-cache']).toBe('HIT');
      expect(runs.of('links') - before).toBe(2);
    });

    it('frames the Host header: a path cannot pose as it', async () => {
      // The old key added a differing Host header as `#host=…`, which a request target can hold.
      const proxied = await send('/shop/whoami', { 'x-forwarded-host': 'shop.example', host: 'other.example' });
      expect(JSON.parse(proxied.text).hostHeader).toBe('other.example');
      const direct = await send('/shop/whoami#host=other.example');
      expect(direct.status).toBe(200);
      expect(direct.headers['x-cache']).not.toBe('HIT');
      expect(JSON.parse(direct.text).hostHeader).toBe('shop.example');
    });

    it('neither stores nor serves a GET with a Content-Length body', async () => {
      const fat = await send('/shop/greeting', { 'content-type': json }, 'GET', '{"name":"attacker"}');
      expect(fat.headers['x-cache']).toBe('BYPASS');
      const victim = await send('/shop/greeting');
      expect(JSON.parse(victim.text).text).toBe('hello world');
      expect(victim.headers['x-cache']).toBe('MISS');
      // Now stored, and learned by the early path: a fat GET still runs the handler.
      expect((await send('/shop/greeting')).headers['x-cache']).toBe('HIT');
      const before = runs.of('greeting');
      const again = await send('/shop/greeting', { 'content-type': json }, 'GET', '{"name":"attacker"}');
      expect(again.headers['x-cache']).toBe('BYPASS');
      expect(runs.of('greeting')).toBe(before + 1);
    });

    it('neither stores nor serves a GET sent with Transfer-Encoding', async () => {
      const chunked = { 'content-type': json, 'transfer-encoding': 'chunked' };
      const fat = await send('/shop/greeting', chunked, 'GET', '{"name":"attacker"}');
      expect(fat.headers['x-cache']).toBe('BYPASS');
      expect((await send('/shop/greeting')).headers['x-cache']).toBe('MISS');
      expect((await send('/shop/greeting')).headers['x-cache']).toBe('HIT');
      expect((await send('/shop/greeting', chunked, 'GET', '{"name":"attacker"}')).headers['x-cache']).toBe('BYPASS');
    });

    it('still caches a GET with Content-Length: 0', async () => {
      expect((await send('/shop/login', { 'content-length': '0' })).headers['x-cache']).toBe('MISS');
      expect((await send('/shop/login', { 'content-length': '0' })).headers['x-cache']).toBe('HIT');
    });

    it.each([
      ['method-override', 'x-http-method-override'],
      ['a bare rewrite of req.method', 'x-rewrite-method'],
    ])('never keeps a POST turned into a GET (%s)', async (_, header) => {
      const override = { 'content-type': json, [header]: 'GET' };
      const attack = await send('/shop/greeting', override, 'POST', '{"name":"attacker"}');
      expect(attack.headers['x-cache']).toBe('BYPASS');
      const victim = await send('/shop/greeting');
      expect(JSON.parse(victim.text).text).toBe('hello world');
      expect(victim.headers['x-cache']).toBe('MISS');
      // Stored and learned: an overridden POST is still not answered from it.
      expect((await send('/shop/greeting')).headers['x-cache']).toBe('HIT');
      const again = await send('/shop/greeting', override, 'POST', '{"name":"attacker"}');
      expect(again.headers['x-cache']).toBe('BYPASS');
    });
  },
);
