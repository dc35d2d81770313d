import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { GUARDS_METADATA, INTERCEPTORS_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { Observable, of, tap } from 'rxjs';
import type { Cache } from '../core/cache.js';
import type { PageWatch } from '../observability/cache-observability.js';
import type { PageAdapter } from './adapters/page-adapter.interface.js';
import type { GlobalEnhancers } from './nest-internals.js';
import { hostIsAllowed } from './allowed-hosts.js';
import {
  CACHE_CONTROL_METADATA,
  CACHE_PAGE_METADATA,
  NEVER_CACHE_METADATA,
  VARY_ON_METADATA,
} from '../cache.constants.js';
import { answerFromPage, serverTiming, type CacheStatus } from './page-answer.js';
import { PageCache, type PageRun } from './page-cache.js';
import type { PageRule } from './page-rule.js';
import { isCacheableRequest, type PageRequest } from './page-keys.js';
import {
  addNeverCacheHeaders,
  patchCacheControl,
  patchVaryHeaders,
  type CacheControlDirectives,
  type HeaderAccess,
} from './response-headers.js';
import { isNotModified } from './stored-page.js';

/** What the cache decorators on a route (and its controller) ask for, read once per route. */
interface RoutePlan {
  page: PageRule | undefined;
  neverCache: boolean;
  cacheControl: CacheControlDirectives | undefined;
  vary: string[];
  /** Nothing but the page cache stands between the router and the handler: hits may skip the pipeline. */
  answersBeforeRouting: boolean;
  /** What makes the page's cache calls, as the panel lists it: `@CachePage` or `site cache`. */
  origin: string;
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

  private handle(
    plan: RoutePlan,
    adapter: PageAdapter,
    request: object,
    response: object,
    next: CallHandler,
  ): Observable<unknown> | Promise<Observable<unknown>> {
    const headers = adapter.headersOf(response);
    const run = () =>
      plan.neverCache || plan.cacheControl || plan.vary.length > 0
        ? next.handle().pipe(tap(() => adapter.headersSent(response) || applyHeaderDecorators(plan, headers)))
        : next.handle();
    const rule = plan.page;
    if (rule === undefined) return run();
    const pageCache = this.pageCache;
    const observability = pageCache.observability;
    const watch = observability?.watchPage(plan.origin, pageCache.caches.get(rule.cache));
    const started = performance.now();
    const described = adapter.describe(request);
    if (
      !isCacheableRequest(described) ||
      !hostIsAllowed(described.host, pageCache.options.allowedHosts) ||
      // Behind a trusted proxy the Host header is in the key too: it must be a host as well.
      (described.header('host') !== described.host && !hostIsAllowed(described.header('host'), undefined))
    ) {
      this.mark(headers, 'BYPASS', performance.now() - started, watch);
      return run();
    }
    // Hit-for-miss decides without a lookup, so without a turn of the event loop either.
    const atOnce = rule.dependsOn === undefined ? pageCache.decideAtOnce(rule, described) : undefined;
    if (atOnce !== undefined) {
      const cache = pageCache.caches.get(rule.cache);
      this.runWithout(adapter, cache, rule, request, response, described, atOnce, started, watch, plan);
      return run();
    }
    const lookUp = () => this.lookUp(plan, rule, adapter, request, response, run, watch, described, started);
    if (watch === undefined) return lookUp();
    return observability!.inPage(watch, lookUp).then(
      // The handler of a page being computed runs under the page's span.
      (handled) => new Observable((subscriber) => observability!.underPage(watch, () => handled.subscribe(subscriber))),
    );
  }

  private async lookUp(
    plan: RoutePlan,
    planned: PageRule,
    adapter: PageAdapter,
    request: object,
    response: object,
    run: () => Observable<unknown>,
    watch: PageWatch | undefined,
    described: PageRequest,
    started: number,
  ): Promise<Observable<unknown>> {
    const pageCache = this.pageCache;
    const headers = adapter.headersOf(response);
    const cache = pageCache.caches.get(planned.cache);
    const rule = await pageCache.versioned(cache, planned, request);
    if (rule === undefined) {
      this.mark(headers, 'BYPASS', performance.now() - started, watch);
      return run();
    }
    const decision = await pageCache.decide(cache, rule, described, rule.dependsOn === undefined);
    const early = plan.answersBeforeRouting ? plan.origin : undefined;
    if ('answer' in decision) {
      answerFromPage(
        (...sent) => adapter.send(...sent),
        response,
        decision.answer,
        described,
        performance.now() - started,
        decision.status,
        pageCache.statusHeader,
      );
      pageCache.observability?.endPage(watch, decision.status);
      if (decision.status === 'STALE') cache.recordStaleServe(described.url, 'page');
      pageCache.markAnswered(response);
      pageCache.answeredFromPage(described, rule, early);
      return of(undefined);
    }
    this.runWithout(adapter, cache, rule, request, response, described, decision.run, started, watch, plan);
    return run();
  }

  /**
   * For a request the handler answers: captures its response, unless it is of a hit-for-miss URL
   * whose response another request's probe is looking at (then it just says BYPASS).
   */
  private runWithout(
    adapter: PageAdapter,
    cache: Cache,
    rule: PageRule,
    request: object,
    response: object,
    described: PageRequest,
    run: PageRun,
    started: number,
    watch: PageWatch | undefined,
    plan: RoutePlan,
  ): void {
    if (run.probe === 'skip') {
      this.mark(adapter.headersOf(response), 'BYPASS', performance.now() - started, watch);
      return;
    }
    if (run.probe === 'probe') adapter.onClose(response, () => this.pageCache.probed(run));
    const early = plan.answersBeforeRouting ? plan.origin : undefined;
    this.capture(adapter, cache, rule, request, response, described, run, started, watch, early);
  }

  /** Stores the response the handler is about to send, if the rules allow; marks it MISS or BYPASS. */
  private capture(
    adapter: PageAdapter,
    cache: Cache,
    rule: PageRule,
    request: object,
    response: object,
    described: PageRequest,
    run: PageRun,
    started: number,
    watch: PageWatch | undefined,
    /** The route's origin when its hits may be answered early. */
    early: string | undefined,
  ): void {
    const { computed } = run;
    if (computed !== undefined) adapter.onClose(response, computed);
    const lookupMs = performance.now() - started;
    adapter.capture(request, response, (captured) => {
      const observability = this.pageCache.observability;
      const { outcome, stored } = observability
        ? observability.inPage(watch, () => this.pageCache.keep(cache, rule, described, run, captured))
        : this.pageCache.keep(cache, rule, described, run, captured);
      const kept = 'stored' in outcome;
      this.mark(captured, kept ? 'MISS' : 'BYPASS', lookupMs, watch);
      this.pageCache.responseSeen(described, rule, early, kept);
      if (captured.status === 200 && isNotModified(described, captured.get('etag'), captured.get('last-modified'))) {
        captured.notModified();
      }
      if (computed !== undefined) void stored.then(computed);
    });
  }

  /** Says what the cache did, and how long its lookup took (`Server-Timing`, for browser dev tools). */
  private mark(headers: HeaderAccess, status: CacheStatus, lookupMs: number, watch: PageWatch | undefined): void {
    this.pageCache.observability?.endPage(watch, status);
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
    const own = neverCache
      ? undefined
      : this.reflector.getAllAndOverride<PageRule | undefined>(CACHE_PAGE_METADATA, targets.slice().reverse());
    const declared = neverCache ? undefined : (own ?? this.siteRule());
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
    const origin = own === undefined ? 'site cache' : '@CachePage';
    return { page, neverCache, cacheControl, vary, answersBeforeRouting, origin };
  }
}

/**
 * Whether a route has no guard and no interceptor but the page cache's, its controller's and the
 * app's included: then a hit answered before Nest's router skips nothing that would have run.
 * `undefined` global settings (not readable) count as "something else runs".
 */
function onlyPageCacheRunsOn(targets: object[], global: GlobalEnhancers | undefined): boolean {
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
