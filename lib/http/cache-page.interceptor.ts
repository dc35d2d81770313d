import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { GUARDS_METADATA, INTERCEPTORS_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { of, tap, type Observable } from 'rxjs';
import type { Cache } from '../core/cache.js';
import type { PageAdapter } from './adapters/page-adapter.interface.js';
import { hostIsAllowed } from './allowed-hosts.js';
import {
  CACHE_CONTROL_METADATA,
  CACHE_PAGE_METADATA,
  NEVER_CACHE_METADATA,
  VARY_ON_METADATA,
} from '../cache.constants.js';
import { PageCache, serverTiming, type CacheStatus, type PageRule } from './page-cache.js';
import { isCacheableRequest, type PageRequest } from './page-keys.js';
import {
  addNeverCacheHeaders,
  patchCacheControl,
  patchVaryHeaders,
  type CacheControlDirectives,
  type HeaderAccess,
} from './response-headers.js';
import { isNotModified, isStale, mayServe, type RequestCredentials } from './stored-page.js';

/** What the cache decorators on a route (and its controller) ask for, read once per route. */
interface RoutePlan {
  page: PageRule | undefined;
  neverCache: boolean;
  cacheControl: CacheControlDirectives | undefined;
  vary: string[];
  /** Nothing but the page cache stands between the router and the handler: hits may skip the pipeline. */
  answersBeforeRouting: boolean;
}

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
    let rule = plan.page;
    if (rule === undefined) return run();
    const started = performance.now();
    const described = adapter.describe(request);
    if (
      !isCacheableRequest(described) ||
      !hostIsAllowed(described.host, this.pageCache.options.allowedHosts) ||
      // Behind a trusted proxy the Host header is in the key too: it must be a host as well.
      (described.header('host') !== described.host && !hostIsAllowed(described.header('host'), undefined))
    ) {
      this.mark(headers, 'BYPASS', performance.now() - started);
      return run();
    }
    const cache = this.pageCache.caches.get(rule.cache);
    const versioned = await this.pageCache.versioned(cache, rule, request);
    if (versioned === undefined) {
      this.mark(headers, 'BYPASS', performance.now() - started);
      return run();
    }
    rule = versioned;
    const credentials: RequestCredentials = {
      authorization: described.header('authorization') !== undefined,
      cookie: described.header('cookie') !== undefined,
    };
    let page = await this.pageCache.lookup(cache, rule, described);
    if (page !== undefined && !mayServe(page, credentials)) page = undefined;
    let flight: string | undefined;
    if (page === undefined || isStale(page)) {
      flight = `${rule.cache}\n${rule.keyPrefix}\n${described.method}\n${described.address}`;
      const computing = this.pageCache.computingNow(flight);
      if (computing !== undefined && page !== undefined) {
        // Another request is recomputing this page: the old one answers meanwhile.
        this.pageCache.answer(adapter, response, page, described, started, 'STALE');
        cache.recordStaleServe(described.url, 'page');
        this.pageCache.markAnswered(response);
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
      this.pageCache.answer(adapter, response, page, described, started, 'HIT');
      this.pageCache.markAnswered(response);
      return of(undefined);
    }
    this.capture(adapter, cache, rule, request, response, described, credentials, started, flight);
    if (plan.answersBeforeRouting) this.pageCache.learnRoute(described, rule);
    return run();
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
      if (captured.status === 200 && isNotModified(described, captured.get('etag'), captured.get('last-modified'))) {
        captured.notModified();
      }
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

  private onlyPageCacheRuns(controller: object, handler: object): boolean {
    return onlyPageCacheRunsOn([controller, handler], this.pageCache.globalEnhancers());
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
    const declared = neverCache
      ? undefined
      : (this.reflector.getAllAndOverride<PageRule>(CACHE_PAGE_METADATA, targets.slice().reverse()) ?? this.siteRule());
    const page = declared && this.pageCache.scopedRule(declared, controller, handler);
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
    const answersBeforeRouting =
      page !== undefined &&
      page.dependsOn === undefined &&
      this.pageCache.answersBeforeRouting &&
      this.onlyPageCacheRuns(controller, handler);
    return { page, neverCache, cacheControl, vary, answersBeforeRouting };
  }
}

/**
 * Whether a route has no guard and no interceptor but the page cache's, its controller's and the
 * app's included: then a hit answered before Nest's router skips nothing that would have run.
 * `undefined` global settings (not readable) count as "something else runs".
 */
function onlyPageCacheRunsOn(
  targets: object[],
  global: { guards: unknown[]; interceptors: unknown[] } | undefined,
): boolean {
  if (global === undefined || global.guards.length > 0) return false;
  if (!global.interceptors.every((interceptor) => interceptor instanceof CachePageInterceptor)) return false;
  return targets.every((target) => {
    const guards = (Reflect.getMetadata(GUARDS_METADATA, target) as unknown[] | undefined) ?? [];
    const interceptors = (Reflect.getMetadata(INTERCEPTORS_METADATA, target) as unknown[] | undefined) ?? [];
    return guards.length === 0 && interceptors.every((interceptor) => interceptor === CachePageInterceptor);
  });
}

/** Django's header decorators, applied to what the handler returned, before it is sent. */
function applyHeaderDecorators(plan: RoutePlan, headers: HeaderAccess): void {
  if (plan.cacheControl) patchCacheControl(headers, plan.cacheControl);
  if (plan.vary.length > 0) patchVaryHeaders(headers, plan.vary);
  if (plan.neverCache) addNeverCacheHeaders(headers);
}
