import 'reflect-metadata';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import {
  Controller,
  ForbiddenException,
  Get,
  Injectable,
  Module,
  Query,
  UsePipes,
  VersioningType,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type MiddlewareConsumer,
  type NestInterceptor,
  type NestModule,
  type PipeTransform,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Observable } from 'rxjs';
import request from 'supertest';
import { CacheModule, CachePage, CachePageInterceptor } from '../../lib/index.js';
import { ADAPTERS, startApp } from './app/http-app.js';

/** What ran, per request: tells a hit answered before Nest's pipeline from one answered in it. */
const seen = { pipe: 0, interceptor: 0, middleware: 0 };

@Injectable()
class CountingPipe implements PipeTransform {
  transform(value: unknown) {
    seen.pipe++;
    return value;
  }
}

@Controller('early')
class EarlyController {
  @Get()
  @CachePage(60)
  @UsePipes(CountingPipe)
  page(@Query('q') q: string) {
    return { q, at: Date.now() };
  }
}

/** A module's middleware (say, authentication) must still run before every hit. */
function blockingMiddleware(
  req: { headers: Record<string, string | undefined> },
  res: unknown,
  next: (e?: unknown) => void,
) {
  seen.middleware++;
  next(req.headers['x-block'] === 'yes' ? new ForbiddenException('blocked') : undefined);
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `early-${Math.random()}` } })],
  controllers: [EarlyController],
})
class EarlyModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(blockingMiddleware).forRoutes(EarlyController);
  }
}

@Injectable()
class AllowGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-allow'] === 'yes';
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `early-guard-${Math.random()}` } })],
  controllers: [EarlyController],
  providers: [{ provide: APP_GUARD, useClass: AllowGuard }],
})
class GlobalGuardModule {}

class CountingInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    seen.interceptor++;
    return next.handle();
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `early-interceptor-${Math.random()}` } })],
  controllers: [EarlyController],
})
class PlainModule {}

describe.each(ADAPTERS)('hits answered before Nest’s pipeline, on %s', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    Object.assign(seen, { pipe: 0, interceptor: 0, middleware: 0 });
    jest.restoreAllMocks();
  });
  /** Pipes run only with the handler; the page cache's own interceptor tells a hit in the pipeline. */
  const pipelineRuns = () => jest.spyOn(CachePageInterceptor.prototype, 'intercept');

  it('skip the pipeline of a route that runs nothing but the page cache, after every middleware', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, EarlyModule));
    const intercepted = pipelineRuns();
    const miss = await request(url).get('/early?q=1').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    for (let i = 0; i < 3; i++) {
      const hit = await request(url).get('/early?q=1').expect(200);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body).toEqual(miss.body);
    }
    expect(seen.pipe).toBe(1);
    expect(intercepted).toHaveBeenCalledTimes(1); // the pipeline ran for the miss only
    expect(seen.middleware).toBe(4);
    await request(url).get('/early?q=1').set('X-Block', 'yes').expect(403);
  });

  it('still skip it under URI versioning, where the version is part of the URL', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, EarlyModule, (nest) =>
      nest.enableVersioning({ type: VersioningType.URI }),
    ));
    const intercepted = pipelineRuns();
    await request(url).get('/early?q=uri').expect(200);
    for (let i = 0; i < 2; i++) expect((await request(url).get('/early?q=uri')).headers['x-cache']).toBe('HIT');
    expect(intercepted).toHaveBeenCalledTimes(1);
  });

  it('never skip a global guard', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, GlobalGuardModule));
    await request(url).get('/early?q=2').set('X-Allow', 'yes').expect(200);
    const hit = await request(url).get('/early?q=2').set('X-Allow', 'yes').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    await request(url).get('/early?q=2').expect(403);
  });

  it('never skip a global interceptor', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, PlainModule, (nest) =>
      nest.useGlobalInterceptors(new CountingInterceptor()),
    ));
    await request(url).get('/early?q=3').expect(200);
    const hit = await request(url).get('/early?q=3').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(seen.interceptor).toBe(2);
  });
});
