import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  Injectable,
  Module,
  Query,
  UseGuards,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type MiddlewareConsumer,
  type NestInterceptor,
  type NestModule,
} from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import request from 'supertest';
import { CacheModule, CachePage, type CacheModuleOptions } from '../../lib/index.js';
import { ADAPTERS, startApp } from './app/http-app.js';

/** What ran, per request: a hit answered at the server's `request` event reaches none of it. */
const seen = { framework: 0, middleware: 0, guard: 0, interceptor: 0, hook: 0 };

@Controller('bare')
class BareController {
  @Get()
  @CachePage(60)
  page(@Query('q') q: string) {
    return { q, at: Date.now() };
  }
}

@Injectable()
class CountingGuard implements CanActivate {
  canActivate(): boolean {
    seen.guard++;
    return true;
  }
}

@Injectable()
class CountingInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    seen.interceptor++;
    return next.handle();
  }
}

@Controller('guarded')
@UseGuards(CountingGuard)
class GuardedController {
  @Get()
  @CachePage(60)
  page() {
    return { at: Date.now() };
  }
}

@Controller('intercepted')
class InterceptedController {
  @Get()
  @CachePage(60)
  @UseInterceptors(CountingInterceptor)
  page() {
    return { at: Date.now() };
  }
}

const cacheModule = (options?: CacheModuleOptions) =>
  CacheModule.forRoot({ default: { backend: 'locmem', location: `server-hits-${Math.random()}` } }, options);

function countingMiddleware(_req: unknown, _res: unknown, next: () => void) {
  seen.middleware++;
  next();
}

@Module({ imports: [cacheModule()], controllers: [BareController, GuardedController, InterceptedController] })
class BareModule {}

@Module({ imports: [cacheModule({ serverHits: false })], controllers: [BareController] })
class ServerHitsOffModule {}

@Module({ imports: [cacheModule()], controllers: [BareController] })
class ConsumerModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(countingMiddleware).forRoutes(BareController);
  }
}

type App = INestApplication & { getHttpAdapter(): { getInstance(): Record<string, (...args: unknown[]) => unknown> } };

/**
 * Counts the requests the framework receives: wraps the server's `request` listeners before the
 * app starts, so that the page cache, which moves them behind its own, moves this one.
 */
function countFramework(app: INestApplication): void {
  const server = app.getHttpServer() as import('node:http').Server;
  const listeners = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    seen.framework++;
    for (const listener of listeners) listener.call(server, req, res);
  });
}

describe.each(ADAPTERS)('hits answered at the server, before the framework, on %s', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    Object.assign(seen, { framework: 0, middleware: 0, guard: 0, interceptor: 0, hook: 0 });
  });

  /** A miss, then three hits: how many of the four requests reached the framework. */
  async function frameworkRunsFor(url: string, path: string): Promise<number> {
    const miss = await request(url).get(path).expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    for (let i = 0; i < 3; i++) {
      const hit = await request(url).get(path).expect(200);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body).toEqual(miss.body);
      expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
    }
    return seen.framework;
  }

  it('answers hits of a route where nothing else would run without entering the framework', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, BareModule, countFramework));
    expect(await frameworkRunsFor(url, '/bare?q=1')).toBe(1);
    // A HEAD learns its own route; a conditional request is answered 304 there too.
    const etag = (await request(url).get('/bare?q=1')).headers.etag!;
    const before = seen.framework;
    await request(url).get('/bare?q=1').set('If-None-Match', etag).expect(304);
    expect(seen.framework).toBe(before);
  });

  it('keeps answering anonymous hits there after a request with a cookie the page does not vary on', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, BareModule, countFramework));
    await frameworkRunsFor(url, '/bare?q=cookie');
    const before = seen.framework;
    const withCookie = await request(url).get('/bare?q=cookie').set('Cookie', 'session=1').expect(200);
    expect(withCookie.headers['x-cache']).toBe('BYPASS');
    expect(seen.framework).toBe(before + 1);
    expect((await request(url).get('/bare?q=cookie')).headers['x-cache']).toBe('HIT');
    expect(seen.framework).toBe(before + 1);
  });

  it('sends requests carrying forwarding headers to the framework, which knows whether it trusts them', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, BareModule, countFramework));
    await frameworkRunsFor(url, '/bare?q=forwarded');
    const before = seen.framework;
    await request(url).get('/bare?q=forwarded').set('X-Forwarded-Host', 'other.example').expect(200);
    expect(seen.framework).toBe(before + 1);
  });

  it('does not, with serverHits: false', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, ServerHitsOffModule, countFramework));
    expect(await frameworkRunsFor(url, '/bare?q=off')).toBe(4);
  });

  it.each([
    ['a guard', '/guarded', () => seen.guard],
    ['an interceptor', '/intercepted', () => seen.interceptor],
  ])('never skips %s', async (_kind, path, ran) => {
    let url: string;
    ({ app, url } = await startApp(adapter, BareModule, countFramework));
    expect(await frameworkRunsFor(url, path)).toBe(4);
    expect(ran()).toBe(4);
  });

  it("never skips a module's middleware (MiddlewareConsumer)", async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, ConsumerModule, countFramework));
    expect(await frameworkRunsFor(url, '/bare?q=consumer')).toBe(4);
    expect(seen.middleware).toBe(4);
  });

  it('never skips app.use() middleware', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, BareModule, (nest) => {
      countFramework(nest);
      nest.use(countingMiddleware);
    }));
    expect(await frameworkRunsFor(url, '/bare?q=use')).toBe(4);
    expect(seen.middleware).toBe(4);
  });

  it("never skips the adapter's own per-request work (enableCors)", async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, BareModule, (nest) => {
      countFramework(nest);
      nest.enableCors({ origin: 'https://app.example' });
    }));
    await request(url).get('/bare?q=cors').set('Origin', 'https://app.example').expect(200);
    const hit = await request(url).get('/bare?q=cors').set('Origin', 'https://app.example').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(seen.framework).toBe(2);
  });

  if (adapter === 'fastify') {
    it('never skips a Fastify hook', async () => {
      let url: string;
      ({ app, url } = await startApp(adapter, BareModule, (nest) => {
        countFramework(nest);
        (nest as App)
          .getHttpAdapter()
          .getInstance()
          .addHook('onRequest', (_req: unknown, _reply: unknown, done: () => void) => {
            seen.hook++;
            done();
          });
      }));
      expect(await frameworkRunsFor(url, '/bare?q=hook')).toBe(4);
      expect(seen.hook).toBe(4);
    });

    it('never skips a Fastify plugin that adds hooks to the app', async () => {
      // What fastify-plugin does: the plugin's hooks go to the app's own context.
      const plugin = Object.assign(
        async (instance: { addHook(name: string, hook: (...args: unknown[]) => void): void }) => {
          instance.addHook('onResponse', (_req, _reply, done) => {
            seen.hook++;
            (done as () => void)();
          });
        },
        { [Symbol.for('skip-override')]: true },
      );
      let url: string;
      ({ app, url } = await startApp(adapter, BareModule, (nest) => {
        countFramework(nest);
        void (nest as unknown as { register(plugin: unknown): Promise<unknown> }).register(plugin);
      }));
      expect(await frameworkRunsFor(url, '/bare?q=plugin')).toBe(4);
      expect(seen.hook).toBe(4);
    });
  }
});
