import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { of, tap, type Observable } from 'rxjs';
import type { Cache } from '../core/cache.js';
import type { PageAdapter } from './adapters/page-adapter.interface.js';
import {
  CACHE_CONTROL_METADATA,
  CACHE_PAGE_METADATA,
  NEVER_CACHE_METADATA,
  VARY_ON_METADATA,
} from './http-cache.constants.js';
import { PageCache, type PageRule } from './page-cache.js';
import type { PageRequest } from './page-keys.js';
import {
  addNeverCacheHeaders,
  patchCacheControl,
  patchVaryHeaders,
  type CacheControlDirectives,
  type HeaderAccess,
} from './response-headers.js';
import { matchesIfNoneMatch, mayServe, type RequestCredentials, type StoredPage } from './stored-page.js';

/** What the cache decorators on a route (and its controller) ask for, read once per route. */
interface RoutePlan {
  page: PageRule | undefined;
  neverCache: boolean;
  cacheControl: CacheControlDirectives | undefined;
  vary: string[];
}

type CacheStatus = 'HIT' | 'STALE' | 'MISS' | 'BYPASS';

// What a 304 repeats of the stored response (RFC 9110 §15.4.5, as Django's ConditionalGetMiddleware).
const NOT_MODIFIED_HEADERS = new Set([
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'last-modified',
  'vary',
]);

/**
 * The page cache and Django's header decorators on a route: put there by `@CachePage`,
 * `@NeverCache`, `@CacheControl` and `@VaryOn…`. Interceptors run after guards, so a hit never
 * skips authorization. However many of them a route stacks, the first one to run does all the
 * work, from all of the route's metadata: decorator order does not matter.
 */
@Injectable()
export class CachePageInterceptor implements NestInterceptor {
  private readonly plans = new WeakMap<object, Map<object, RoutePlan | null>>();

  constructor(
    protected readonly pageCache: PageCache,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> | Promise<Observable<unknown>> {
    const adapter = this.pageCache.adapter;
    if (adapter === undefined || context.getType() !== 'http') return next.handle();
    const plan = this.planOf(context);
    const http = context.switchToHttp();
    const request = http.getRequest<object>();
    if (plan === null || !this.pageCache.claim(request)) return next.handle();
    return this.handle(plan, adapter, request, http.getResponse<object>(), next);
  }

  /** The rule of the per-site cache, for routes without a `@CachePage` of their own. */
  protected siteRule(): PageRule | undefined {
    return undefined;
  }

  private async handle(
    plan: RoutePlan,
    adapter: PageAdapter,
    request: object,
    response: object,
    next: CallHandler,
  ): Promise<Observable<unknown>> {
    const headers = adapter.headersOf(response);
    const run = () =>
      plan.neverCache || plan.cacheControl || plan.vary.length > 0
        ? next.handle().pipe(tap(() => adapter.headersSent(response) || applyHeaderDecorators(plan, headers)))
        : next.handle();
    const rule = plan.page;
    if (rule === undefined) return run();
    const started = performance.now();
    const described = adapter.describe(request);
    if (described.method !== 'GET' && described.method !== 'HEAD') {
      this.mark(headers, 'BYPASS', performance.now() - started);
      return run();
    }
    const cache = this.pageCache.caches.get(rule.cache);
    const credentials: RequestCredentials = {
      authorization: described.header('authorization') !== undefined,
      cookie: described.header('cookie') !== undefined,
    };
    let page = await this.pageCache.lookup(cache, rule, described);
    if (page !== undefined && !mayServe(page, credentials)) page = undefined;
    let flight: string | undefined;
    if (page === undefined || isStale(page)) {
      flight = `${rule.cache}\n${rule.keyPrefix}\n${described.method}\n${described.url}`;
      const computing = this.pageCache.computingNow(flight);
      if (computing !== undefined && page !== undefined) {
        // Another request is recomputing this page: the old one answers meanwhile.
        this.answer(adapter, response, page, described, started, 'STALE');
        return of(undefined);
      }
      if (computing !== undefined) {
        // Another request is computing this page: wait for it rather than run the handler again.
        await computing;
        page = await this.pageCache.lookup(cache, rule, described);
        if (page !== undefined && !mayServe(page, credentials)) page = undefined;
        flight = undefined;
      } else {
        page = undefined; // stale, and no one recomputes it yet: this request does
      }
    }
    if (page !== undefined) {
      this.answer(adapter, response, page, described, started, 'HIT');
      return of(undefined);
    }
    this.capture(adapter, cache, rule, request, response, described, credentials, started, flight);
    return run();
  }

  /** Writes a stored page: a 304 when the client holds it already. */
  private answer(
    adapter: PageAdapter,
    response: object,
    page: StoredPage,
    request: PageRequest,
    started: number,
    status: 'HIT' | 'STALE',
  ): void {
    const extra: Array<[string, string]> = [
      [this.pageCache.statusHeader, status],
      ['age', String(Math.max(0, Math.floor((Date.now() - page.storedAt) / 1000)))],
      ['server-timing', serverTiming(status, performance.now() - started)],
    ];
    if (matchesIfNoneMatch(request.header('if-none-match'), page.etag)) {
      const kept = page.headers.filter(([name]) => NOT_MODIFIED_HEADERS.has(name));
      adapter.send(response, 304, [...kept, ...extra], undefined);
    } else {
      extra.push(['content-length', String(page.contentLength)]);
      // The platform drops the body of a HEAD response itself.
      adapter.send(response, page.status, [...page.headers, ...extra], page.body);
    }
    this.pageCache.markAnswered(response);
  }

  /** Stores the response the handler is about to send, if the rules allow; marks it MISS or BYPASS. */
  private capture(
    adapter: PageAdapter,
    cache: Cache,
    rule: PageRule,
    request: object,
    response: object,
    described: PageRequest,
    credentials: RequestCredentials,
    started: number,
    flight: string | undefined,
  ): void {
    let settle!: () => void;
    const over = new Promise<void>((resolve) => (settle = resolve));
    if (flight !== undefined) this.pageCache.startComputing(flight, over);
    adapter.onClose(response, settle);
    const lookupMs = performance.now() - started;
    adapter.capture(request, response, (captured) => {
      const { outcome, stored } = this.pageCache.keep(cache, rule, described, credentials, captured);
      this.mark(captured, 'stored' in outcome ? 'MISS' : 'BYPASS', lookupMs);
      void stored.then(settle);
    });
  }

  /** Says what the cache did, and how long its lookup took (`Server-Timing`, for browser dev tools). */
  private mark(headers: HeaderAccess, status: CacheStatus, lookupMs: number): void {
    headers.set(this.pageCache.statusHeader, status);
    const timing = serverTiming(status, lookupMs);
    const existing = headers.get('server-timing');
    headers.set('server-timing', existing ? `${existing}, ${timing}` : timing);
  }

  private planOf(context: ExecutionContext): RoutePlan | null {
    const controller = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.plans.get(controller);
    if (byHandler === undefined) this.plans.set(controller, (byHandler = new Map()));
    let plan = byHandler.get(handler);
    if (plan === undefined) byHandler.set(handler, (plan = this.readPlan(controller, handler)));
    return plan;
  }

  private readPlan(controller: object, handler: object): RoutePlan | null {
    const targets = [controller, handler] as Array<() => void>;
    const neverCache = this.reflector.getAllAndOverride<boolean>(NEVER_CACHE_METADATA, targets) === true;
    const page = neverCache
      ? undefined
      : (this.reflector.getAllAndOverride<PageRule>(CACHE_PAGE_METADATA, targets.slice().reverse()) ?? this.siteRule());
    const directives = this.reflector.getAll<Array<CacheControlDirectives | undefined>>(
      CACHE_CONTROL_METADATA,
      targets,
    );
    const cacheControl = directives.some(Boolean) ? Object.assign({}, ...directives) : undefined;
    // Sorted: the order decorators are stacked in must not show in the response.
    const vary = this.reflector
      .getAll<Array<string[] | undefined>>(VARY_ON_METADATA, targets)
      .flatMap((names) => names ?? [])
      .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    if (page === undefined && !neverCache && cacheControl === undefined && vary.length === 0) return null;
    return { page, neverCache, cacheControl, vary };
  }
}

/** Django's header decorators, applied to what the handler returned, before it is sent. */
function applyHeaderDecorators(plan: RoutePlan, headers: HeaderAccess): void {
  if (plan.cacheControl) patchCacheControl(headers, plan.cacheControl);
  if (plan.vary.length > 0) patchVaryHeaders(headers, plan.vary);
  if (plan.neverCache) addNeverCacheHeaders(headers);
}

function isStale(page: StoredPage): boolean {
  return page.freshUntil !== null && Date.now() > page.freshUntil;
}

function serverTiming(status: CacheStatus, lookupMs: number): string {
  return `cache;desc="${status}";dur=${lookupMs.toFixed(2)}`;
}
