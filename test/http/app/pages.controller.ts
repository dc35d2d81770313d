import {
  CallHandler,
  CanActivate,
  Controller,
  ExecutionContext,
  ForbiddenException,
  Get,
  Header,
  HttpCode,
  Injectable,
  NestInterceptor,
  NotFoundException,
  Post,
  Query,
  Req,
  Res,
  StreamableFile,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { map, type Observable } from 'rxjs';
import { CacheControl, CachePage, NeverCache, VaryOnCookie, VaryOnHeaders } from '../../../lib/index.js';

/** Counts handler runs per route, so that tests can tell a hit (no run) from a miss. */
export class Runs {
  private readonly counts = new Map<string, number>();

  count(route: string): number {
    const next = (this.counts.get(route) ?? 0) + 1;
    this.counts.set(route, next);
    return next;
  }

  of(route: string): number {
    return this.counts.get(route) ?? 0;
  }
}

/** Lets a request through only with `X-Allow: yes`: a guard must still say no on a would-be hit. */
@Injectable()
export class AllowHeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    if (request.headers['x-allow'] !== 'yes') throw new ForbiddenException('X-Allow: yes required');
    return true;
  }
}

/**
 * Maps what the handler returns, as `ClassSerializerInterceptor` does, and counts its runs: placed
 * inside `@CachePage`, it must not run on a hit.
 */
@Injectable()
export class SerializingInterceptor implements NestInterceptor {
  constructor(private readonly runs: Runs) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const run = this.runs.count('serializer');
    return next.handle().pipe(map((data: object) => ({ ...data, serialized: run })));
  }
}

type Headers = { headers: Record<string, string | undefined> };
/** Express's response and Fastify's reply both set a header with `header(name, value)`. */
type SettableResponse = { header(name: string, value: string): unknown };

const page = (run: number, extra: Record<string, unknown> = {}) => ({
  run,
  text: 'x'.repeat(1000),
  ...extra,
});

@Controller('pages')
export class PagesController {
  constructor(private readonly runs: Runs) {}

  @Get('counted')
  @CachePage(60)
  counted(@Query('q') q?: string) {
    return page(this.runs.count('counted'), { q: q ?? null });
  }

  @Get('slow')
  @CachePage(60)
  async slow() {
    const run = this.runs.count('slow');
    await new Promise((resolve) => setTimeout(resolve, 100));
    return page(run);
  }

  /** Fresh for 0.3 s, then kept 30 s more to answer while it is recomputed. */
  @Get('stale')
  @CachePage(0.3, { staleWhileRevalidate: 30 })
  async stale() {
    const run = this.runs.count('stale');
    await new Promise((resolve) => setTimeout(resolve, 100));
    return page(run);
  }

  @Post('counted')
  @CachePage(60)
  post() {
    return page(this.runs.count('post'));
  }

  @Get('text')
  @CachePage(60)
  @Header('Content-Type', 'text/plain; charset=utf-8')
  text() {
    return `plain text ${this.runs.count('text')} — ünïcödé`;
  }

  @Get('private')
  @CachePage(60)
  @CacheControl({ private: true })
  private() {
    return page(this.runs.count('private'));
  }

  @Get('no-store')
  @CachePage(60)
  @CacheControl({ noStore: true })
  noStore() {
    return page(this.runs.count('no-store'));
  }

  @Get('no-cache')
  @CachePage(60)
  @Header('Cache-Control', 'no-cache')
  noCache() {
    return page(this.runs.count('no-cache'));
  }

  @Get('vary-star')
  @CachePage(60)
  @VaryOnHeaders('*')
  varyStar() {
    return page(this.runs.count('vary-star'));
  }

  @Get('missing')
  @CachePage(60)
  missing() {
    this.runs.count('missing');
    throw new NotFoundException('no such page');
  }

  @Get('accepted')
  @CachePage(60)
  @HttpCode(202)
  accepted() {
    return page(this.runs.count('accepted'));
  }

  @Get('sets-cookie')
  @CachePage(60)
  setsCookie(@Res({ passthrough: true }) response: SettableResponse) {
    const run = this.runs.count('sets-cookie');
    response.header('Set-Cookie', `session=${run}; HttpOnly`);
    return page(run);
  }

  @Get('sets-cookie-public')
  @CachePage(60)
  @CacheControl({ public: true })
  setsCookiePublic(@Res({ passthrough: true }) response: SettableResponse) {
    const run = this.runs.count('sets-cookie-public');
    response.header('Set-Cookie', `theme=${run}`);
    return page(run);
  }

  /** Public, but the cookie it sets is one visitor's: Django keeps it only for a request that had cookies. */
  @Get('sets-cookie-varying')
  @CachePage(60)
  @CacheControl({ public: true })
  @VaryOnCookie()
  setsCookieVarying(@Res({ passthrough: true }) response: SettableResponse) {
    const run = this.runs.count('sets-cookie-varying');
    response.header('Set-Cookie', `session=${run}; HttpOnly`);
    return page(run);
  }

  /** Dangerous on purpose: shows who asked, without saying it varies on who asks. */
  @Get('whoami')
  @CachePage(60)
  whoami(@Req() request: Headers) {
    return page(this.runs.count('whoami'), { user: request.headers.authorization ?? 'anonymous' });
  }

  @Get('whoami-varying')
  @CachePage(60)
  @VaryOnHeaders('Authorization')
  whoamiVarying(@Req() request: Headers) {
    return page(this.runs.count('whoami-varying'), { user: request.headers.authorization ?? 'anonymous' });
  }

  @Get('whoami-public')
  @CachePage(60)
  @CacheControl({ public: true })
  whoamiPublic(@Req() request: Headers) {
    return page(this.runs.count('whoami-public'), { user: request.headers.authorization ?? 'anonymous' });
  }

  @Get('by-cookie')
  @CachePage(60)
  @VaryOnCookie()
  byCookie(@Req() request: Headers) {
    return page(this.runs.count('by-cookie'), { cookie: request.headers.cookie ?? null });
  }

  @Get('language')
  @CachePage(60)
  @VaryOnHeaders('Accept-Language')
  language(@Req() request: Headers) {
    return page(this.runs.count('language'), { language: request.headers['accept-language'] ?? null });
  }

  @Get('vary-odd')
  @CachePage(60)
  @Header('Vary', 'constructor, __proto__, Accept-Language')
  varyOdd() {
    return page(this.runs.count('vary-odd'));
  }

  @Get('guarded')
  @UseGuards(AllowHeaderGuard)
  @CachePage(60)
  guarded() {
    return page(this.runs.count('guarded'));
  }

  /** Decorators apply bottom up: the serializer is added after the page cache's interceptor, inside it. */
  @Get('serialized')
  @UseGuards(AllowHeaderGuard)
  @UseInterceptors(SerializingInterceptor)
  @CachePage(60)
  serialized() {
    return page(this.runs.count('serialized'));
  }

  @Get('max-age')
  @CachePage(60)
  @CacheControl({ maxAge: 30 })
  maxAge() {
    return page(this.runs.count('max-age'));
  }

  @Get('zero')
  @CachePage(0)
  zero() {
    return page(this.runs.count('zero'));
  }

  @Get('never')
  @NeverCache()
  never() {
    return page(this.runs.count('never'));
  }

  @Get('stacked-one')
  @CachePage(60)
  @CacheControl({ public: true, maxAge: 120 })
  @VaryOnHeaders('Accept-Language')
  @VaryOnCookie()
  stackedOne() {
    return page(this.runs.count('stacked-one'));
  }

  @VaryOnCookie()
  @VaryOnHeaders('Accept-Language')
  @CacheControl({ public: true, maxAge: 120 })
  @CachePage(60)
  @Get('stacked-two')
  stackedTwo() {
    return page(this.runs.count('stacked-two'));
  }

  @Get('header-only')
  @CacheControl({ public: true, maxAge: 300 })
  @VaryOnHeaders('Accept-Language')
  headerOnly() {
    return page(this.runs.count('header-only'));
  }
}

/** Express's response is Node's; Fastify's reply holds it as `raw`. */
const nodeResponse = (response: ServerResponse | { raw: ServerResponse }) =>
  'raw' in response ? response.raw : response;

/** Responses whose headers leave before the whole body: never stored, still marked. */
@Controller('streams')
export class StreamsController {
  constructor(private readonly runs: Runs) {}

  @Get('written')
  @CachePage(60)
  written(@Res() response: ServerResponse | { raw: ServerResponse }) {
    const run = this.runs.count('written');
    const raw = nodeResponse(response);
    raw.setHeader('Content-Type', 'text/plain');
    raw.write(`run ${run}, `);
    raw.end('written in two chunks');
  }

  @Get('piped')
  @CachePage(60)
  piped(@Res() response: ServerResponse | { raw: ServerResponse }) {
    const run = this.runs.count('piped');
    const raw = nodeResponse(response);
    raw.setHeader('Content-Type', 'text/plain');
    Readable.from([`run ${run}, `, 'piped']).pipe(raw);
  }

  @Get('streamable')
  @CachePage(60)
  streamable() {
    const run = this.runs.count('streamable');
    return new StreamableFile(Readable.from([Buffer.from(`run ${run}, `), Buffer.from('a StreamableFile')]), {
      type: 'text/plain',
    });
  }

  /** The whole body in one `end()` on the Node response: stored, on both platforms. */
  @Get('ended')
  @CachePage(60)
  ended(@Res() response: ServerResponse | { raw: ServerResponse }) {
    const run = this.runs.count('ended');
    const raw = nodeResponse(response);
    raw.setHeader('Content-Type', 'text/plain');
    raw.end(`run ${run}, in one piece`);
  }
}

/** `@CachePage` on a controller: every route of it is cached; a route's own decorator wins. */
@Controller('whole')
@CachePage(60, { keyPrefix: 'whole' })
export class WholeController {
  constructor(private readonly runs: Runs) {}

  @Get('one')
  one() {
    return page(this.runs.count('whole-one'));
  }

  @Get('opted-out')
  @NeverCache()
  optedOut() {
    return page(this.runs.count('whole-opted-out'));
  }
}
