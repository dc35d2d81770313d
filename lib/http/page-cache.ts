import { hash } from 'node:crypto';
import { Inject, Injectable, Logger, VersioningType, type OnModuleInit, type VersioningOptions } from '@nestjs/common';
import { HOST_METADATA, PATH_METADATA, VERSION_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost, ModuleRef, ModulesContainer } from '@nestjs/core';
import { Caches } from '../caches.js';
import { Flights } from '../core/flights.js';
import type { Cache } from '../core/cache.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import type { Dependency } from '../invalidation/dependencies.js';
import { versionedKeyPart } from '../invalidation/generations.js';
import type { CacheModuleOptions } from '../interfaces/cache-options.interface.js';
import { ExpressPageAdapter, type ExpressApp } from './adapters/express.page-adapter.js';
import { FastifyPageAdapter, type FastifyInstance } from './adapters/fastify.page-adapter.js';
import type { PageAdapter } from './adapters/page-adapter.interface.js';
import { recordWireMethods } from './adapters/wire-method.js';
import { CACHE_HTTP_OPTIONS } from '../cache.constants.js';
import { headerKeyOf, isCacheableRequest, normalizeVary, pageKeyOf, urlHashOf, type PageRequest } from './page-keys.js';
import { patchResponseHeaders, varyHeaderNames } from './response-headers.js';
import {
  isStale,
  isNotModified,
  mayServe,
  refusalOf,
  storeTimeoutOf,
  toStoredPage,
  type CapturedResponse,
  type RequestCredentials,
  type StoredPage,
} from './stored-page.js';

const REPLYING_METHODS = ['reply', 'render'] as const;
// Routes whose hits may be answered before Nest's router; a bound on memory, not a tuning knob.
const EARLY_ROUTES_LIMIT = 10_000;
// `@RouteConstraints()` of @nestjs/platform-fastify (FASTIFY_ROUTE_CONSTRAINTS_METADATA), an optional install.
const FASTIFY_ROUTE_CONSTRAINTS_METADATA = '__fastify_route_constraints__';

export type CacheStatus = 'HIT' | 'STALE' | 'MISS' | 'BYPASS';

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
const PATCHED = Symbol('nestjs-caches:answers-from-cache');

type HttpAdapterLike = Record<(typeof REPLYING_METHODS)[number], (response: unknown, ...rest: unknown[]) => unknown> & {
  getType(): string;
  getInstance(): unknown;
  getHttpServer(): unknown;
  [PATCHED]?: WeakSet<object>;
};

/** Where and how long a route's pages are kept: `@CachePage`'s settings, or the per-site cache's. */
export interface PageRule {
  /** Seconds, winning over the response's `max-age` (`@CachePage`'s, Django's `page_timeout`). */
  timeout: number | undefined;
  /** Seconds, when there is no `timeout` and the response has no `max-age` (`site.timeout`); else the alias default. */
  fallbackTimeout?: number;
  cache: string;
  keyPrefix: string;
  /** Seconds a page is kept past its timeout, to answer `STALE` while one request recomputes it. */
  staleWhileRevalidate: number;
  /** `@CachePage`'s `dependsOn`: the generations read per request go into `keyPrefix`. */
  dependsOn?: readonly Dependency[];
}

/** The outcome of a response the page cache saw leave: kept, or why not. */
export type PageOutcome = { stored: StoredPage } | { refused: string };

/**
 * The page cache's state in one app: the platform adapter, the responses answered from the cache,
 * and the misses being computed (so that concurrent misses of a URL wait for one handler run).
 */
@Injectable()
export class PageCache implements OnModuleInit {
  readonly statusHeader: string;
  private platform: PageAdapter | undefined;
  /** Requests one of the page cache interceptors on their route has taken on. */
  private readonly claimed = new WeakSet<object>();
  /** Responses written from the cache, which Nest must then not write again. */
  private answered = new WeakSet<object>();
  /**
   * Method and URL of routes that run nothing but the page cache, with their rule: their hits
   * skip the pipeline.
   */
  private readonly earlyRoutes = new Map<string, { rule: PageRule; urlHash: string }>();
  /** Why Nest may route one method and URL to several handlers here, if it may; see `sharedUrlsOf`. */
  private sharedUrls: string | undefined;
  /** Each controller's part of its pages' keys, once handlers may share URLs: names and routing, made unique. */
  private readonly controllerScopes = new Map<object, string>();
  /** Misses being computed, by URL and method; each entry goes when its response is over. */
  /** Misses being computed now, by page: later requests wait for them rather than run the handler. */
  private readonly computing = new Flights();

  constructor(
    readonly caches: Caches,
    @Inject(CACHE_HTTP_OPTIONS) readonly options: CacheModuleOptions,
    private readonly adapterHost: HttpAdapterHost,
    private readonly moduleRef: ModuleRef,
    private readonly modulesContainer: ModulesContainer,
  ) {
    this.statusHeader = options.statusHeader ?? 'X-Cache';
    if (options.site !== undefined) caches.get(options.site.cache ?? 'default'); // names the aliases if absent
  }

  /** Picks the platform, and makes Nest skip its reply to a response the cache already wrote. */
  onModuleInit(): void {
    const http = this.adapterHost?.httpAdapter as unknown as HttpAdapterLike | null | undefined;
    if (!http) return; // an application context (null) or a testing module (undefined): no HTTP
    recordWireMethods(http.getHttpServer());
    this.platform =
      http.getType() === 'fastify'
        ? new FastifyPageAdapter(http.getInstance() as FastifyInstance)
        : new ExpressPageAdapter(http.getInstance() as ExpressApp);
    this.sharedUrls = this.sharedUrlsOf();
    if (this.sharedUrls === undefined) {
      this.platform.answerBeforeRouting((request, response) => this.answerEarly(request, response));
    } else {
      new Logger('CacheModule').debug(`Page cache hits go through Nest's pipeline: ${this.sharedUrls}.`);
      for (const { metatype, name } of this.controllers()) {
        if (this.controllerScopes.has(metatype)) continue; // one controller in several modules
        // Its name and what it routes by, so that instances sharing a store agree whatever the
        // order their modules load in; a numbered suffix only for controllers alike in all that.
        const routing = [PATH_METADATA, HOST_METADATA, VERSION_METADATA].map((key) =>
          JSON.stringify(Reflect.getMetadata(key, metatype) ?? null),
        );
        const base = `${name}~${hash('md5', routing.join(','), 'hex').slice(0, 12)}`;
        let scope = base;
        for (let n = 2; [...this.controllerScopes.values()].includes(scope); n++) scope = `${base}~${n}`;
        this.controllerScopes.set(metatype, scope);
      }
    }
    if (http[PATCHED] !== undefined) {
      this.answered = http[PATCHED];
      return;
    }
    const answered = this.answered;
    for (const method of REPLYING_METHODS) {
      const original = http[method].bind(http);
      http[method] = (response, ...rest) =>
        answered.has(response as object) ? undefined : original(response, ...rest);
    }
    http[PATCHED] = answered;
  }

  /** Every controller of the app, with its methods by name. */
  private *controllers(): Generator<{ metatype: object; name: string; methods: Map<string, unknown> }> {
    for (const module of this.modulesContainer.values()) {
      for (const wrapper of module.controllers.values()) {
        const metatype = wrapper.metatype as { prototype?: object } | null;
        if (!metatype) continue;
        const methods = new Map<string, unknown>();
        for (
          let level = metatype.prototype;
          level && level !== Object.prototype;
          level = Object.getPrototypeOf(level)
        ) {
          for (const method of Object.getOwnPropertyNames(level)) {
            if (!methods.has(method)) methods.set(method, Object.getOwnPropertyDescriptor(level, method)?.value);
          }
        }
        yield { metatype, name: wrapper.name, methods };
      }
    }
  }

  /**
   * Why Nest may send one method and URL to different handlers in this app, by something the
   * page key does not hold, or `undefined` if it cannot: versioning other than by URI (a header,
   * the media type, an extractor), a controller bound to a host (matched on `req.hostname`,
   * which a trusted proxy's `X-Forwarded-Host` sets, while the key holds `Host`), or Fastify
   * route constraints. App-wide, since the handler that answers may be another than the one that
   * was learned. Then no hit is answered before routing, and each controller keeps its own pages.
   */
  private sharedUrlsOf(): string | undefined {
    const config = (this.moduleRef as unknown as { container?: { applicationConfig?: AppConfig } }).container
      ?.applicationConfig;
    if (typeof config?.getVersioning !== 'function') return 'versioning options not readable';
    const versioning = config.getVersioning();
    if (versioning !== undefined && versioning.type !== VersioningType.URI) return 'versioning not by URI';
    for (const { metatype, name, methods } of this.controllers()) {
      if (Reflect.getMetadata(HOST_METADATA, metatype) !== undefined) return `${name} is bound to a host`;
      for (const target of [metatype, ...methods.values()]) {
        if (typeof target === 'function' && Reflect.getMetadata(FASTIFY_ROUTE_CONSTRAINTS_METADATA, target)) {
          return `${name} has route constraints`;
        }
      }
    }
    return undefined;
  }

  /**
   * The rule a route's pages are kept under: once handlers may share URLs, the controller and
   * method go into the key prefix, so that a page is only ever found by the handler that made it.
   */
  scopedRule(rule: PageRule, controller: object, handler: object): PageRule {
    if (this.sharedUrls === undefined) return rule;
    const scope = this.controllerScopes.get(controller) ?? (controller as { name?: string }).name;
    return { ...rule, keyPrefix: `${rule.keyPrefix}.${scope}.${(handler as { name?: string }).name}` };
  }

  /** Whether a hit may be answered before Nest's router at all in this app; see `sharedUrlsOf`. */
  get answersBeforeRouting(): boolean {
    return this.sharedUrls === undefined;
  }

  get adapter(): PageAdapter | undefined {
    return this.platform;
  }

  /** True for the first interceptor to ask about a request: it alone handles it. */
  claim(request: object): boolean {
    if (this.claimed.has(request)) return false;
    this.claimed.add(request);
    return true;
  }

  markAnswered(response: object): void {
    this.answered.add(response);
  }

  /**
   * The app's global guards and interceptors (`app.useGlobal…()` and `APP_GUARD`/`APP_INTERCEPTOR`),
   * read from Nest's container; `undefined` if this Nest version keeps them elsewhere.
   */
  globalEnhancers(): { guards: unknown[]; interceptors: unknown[] } | undefined {
    const config = (this.moduleRef as unknown as { container?: { applicationConfig?: GlobalEnhancers } }).container
      ?.applicationConfig;
    if (typeof config?.getGlobalGuards !== 'function' || typeof config.getGlobalInterceptors !== 'function') {
      return undefined;
    }
    return {
      guards: [...config.getGlobalGuards(), ...(config.getGlobalRequestGuards?.() ?? [])],
      interceptors: [
        ...config.getGlobalInterceptors(),
        ...(config.getGlobalRequestInterceptors?.() ?? []).map((wrapper) => wrapper.instance),
      ],
    };
  }

  /**
   * Remembers that hits of this method and URL may be answered before routing, under this rule.
   * By method too: a HEAD may have a handler of its own, which a GET's page must not skip.
   */
  learnRoute(request: PageRequest, rule: PageRule): void {
    const route = `${request.method} ${request.address}`;
    if (this.earlyRoutes.has(route)) return;
    if (this.earlyRoutes.size >= EARLY_ROUTES_LIMIT) this.earlyRoutes.delete(this.earlyRoutes.keys().next().value!);
    this.earlyRoutes.set(route, { rule, urlHash: urlHashOf(request) });
  }

  /**
   * Answers a fresh hit of a learned URL before Nest's router: the route runs nothing else (no
   * guard, no other interceptor), so skipping the pipeline changes nothing but the cost. Anything
   * else (a miss, a stale page, a page not for this requester) goes down the pipeline as usual.
   */
  private async answerEarly(request: unknown, response: unknown): Promise<boolean> {
    const adapter = this.platform!;
    const described = adapter.describe(request);
    if (!isCacheableRequest(described)) return false;
    const route = this.earlyRoutes.get(`${described.method} ${described.address}`);
    if (route === undefined) return false;
    const started = performance.now();
    const page = await this.lookup(this.caches.get(route.rule.cache), route.rule, described, route.urlHash);
    if (page === undefined || isStale(page)) return false;
    const credentials = {
      authorization: described.header('authorization') !== undefined,
      cookie: described.header('cookie') !== undefined,
    };
    if (!mayServe(page, credentials)) return false;
    this.answer(adapter, response as object, page, described, started, 'HIT');
    return true;
  }

  /** Writes a stored page: a 304 when the client holds it already. */
  answer(
    adapter: PageAdapter,
    response: object,
    page: StoredPage,
    request: PageRequest,
    started: number,
    status: 'HIT' | 'STALE',
  ): void {
    const extra: Array<[string, string]> = [
      [this.statusHeader, status],
      ['age', String(Math.max(0, Math.floor((Date.now() - page.storedAt) / 1000)))],
      ['server-timing', serverTiming(status, performance.now() - started)],
    ];
    const lastModified = page.headers.find(([name]) => name === 'last-modified')?.[1];
    if (isNotModified(request, page.etag, lastModified)) {
      const kept = page.headers.filter(([name]) => NOT_MODIFIED_HEADERS.has(name));
      adapter.send(response, 304, [...kept, ...extra], undefined);
    } else {
      extra.push(['content-length', String(page.contentLength)]);
      // The platform drops the body of a HEAD response itself.
      adapter.send(response, page.status, [...page.headers, ...extra], page.body);
    }
  }

  /**
   * The rule with the current generations of its `dependsOn` folded into the key prefix, read
   * before the handler runs; `undefined` when the store fails (the page is then not cached).
   */
  async versioned(cache: Cache, rule: PageRule, request: object): Promise<PageRule | undefined> {
    if (rule.dependsOn === undefined) return rule;
    const kept = rule.timeout === undefined ? undefined : rule.timeout + rule.staleWhileRevalidate;
    try {
      const part = await versionedKeyPart(cache, rule.dependsOn, request, kept);
      return { ...rule, keyPrefix: `${rule.keyPrefix}.${part}` };
    } catch {
      return undefined; // see quietGet
    }
  }

  /**
   * The stored page for this request, if any (Django's `FetchFromCacheMiddleware`): the URL's
   * learned `Vary` names the headers of the key; a HEAD may be answered by a stored GET.
   */
  async lookup(
    cache: Cache,
    rule: PageRule,
    request: PageRequest,
    urlHash = urlHashOf(request),
  ): Promise<StoredPage | undefined> {
    const varyOn = await quietGet<string[]>(cache, headerKeyOf(rule.keyPrefix, urlHash));
    if (varyOn === undefined) return undefined;
    const methods = request.method === 'HEAD' ? ['GET', 'HEAD'] : [request.method];
    for (const method of methods) {
      const page = await quietGet<StoredPage>(cache, pageKeyOf(rule.keyPrefix, method, urlHash, request, varyOn));
      if (page !== undefined) return page;
    }
    return undefined;
  }

  /**
   * Decides whether a response leaving the app is kept and, if so, adds its cache headers and
   * stores it (Django's `UpdateCacheMiddleware`); resolves once it is stored.
   */
  keep(
    cache: Cache,
    rule: PageRule,
    request: PageRequest,
    credentials: RequestCredentials,
    response: CapturedResponse,
  ): { outcome: PageOutcome; stored: Promise<void> } {
    const refusal = refusalOf(response, credentials);
    if (refusal !== undefined) return { outcome: { refused: refusal }, stored: Promise.resolve() };
    const timeout: TimeoutSeconds = storeTimeoutOf(
      response,
      { page: rule.timeout, fallback: rule.fallbackTimeout },
      cache.defaultTimeout,
    );
    if (timeout !== null && timeout <= 0) {
      patchResponseHeaders(response, 0); // as Django: the response says it is not to be kept
      return { outcome: { refused: 'timeout 0' }, stored: Promise.resolve() };
    }
    const page = toStoredPage(response, timeout);
    const varyOn = normalizeVary(varyHeaderNames(response));
    const urlHash = urlHashOf(request);
    const kept = timeout === null ? null : timeout + rule.staleWhileRevalidate;
    const stored = Promise.all([
      quietSet(cache, headerKeyOf(rule.keyPrefix, urlHash), varyOn, kept),
      quietSet(cache, pageKeyOf(rule.keyPrefix, request.method, urlHash, request, varyOn), page, kept),
    ]).then(() => undefined);
    return { outcome: { stored: page }, stored };
  }

  /** The miss of this URL being computed now, if any. */
  computingNow(flight: string): Promise<unknown> | undefined {
    return this.computing.runningNow(flight);
  }

  /** Records a miss being computed until `done` settles. */
  startComputing(flight: string, done: Promise<void>): void {
    void this.computing.run(flight, () => done);
  }
}

// The page cache fails open: a store that errors is a miss, and the app answers from the handler.
// The alias has already logged the failure (once per burst) and counted it.
async function quietGet<T>(cache: Cache, key: string): Promise<T | undefined> {
  try {
    return await cache.get<T>(key);
  } catch {
    return undefined;
  }
}

async function quietSet(cache: Cache, key: string, value: unknown, timeout: TimeoutSeconds): Promise<void> {
  try {
    await cache.set(key, value, timeout);
  } catch {
    // see quietGet
  }
}

export function serverTiming(status: CacheStatus, lookupMs: number): string {
  return `cache;desc="${status}";dur=${lookupMs.toFixed(2)}`;
}

/** The parts of Nest's `ApplicationConfig` read for versioning. */
interface AppConfig {
  getVersioning?(): VersioningOptions | undefined;
}

/** The parts of Nest's `ApplicationConfig` read for the app's global guards and interceptors. */
interface GlobalEnhancers {
  getGlobalGuards(): unknown[];
  getGlobalInterceptors(): unknown[];
  getGlobalRequestGuards?(): unknown[];
  getGlobalRequestInterceptors?(): Array<{ instance: unknown }>;
}
