import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Caches } from '../caches.js';
import type { Cache } from '../core/cache.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import type { CacheModuleOptions } from '../interfaces/http-cache-options.interface.js';
import { ExpressPageAdapter } from './adapters/express.page-adapter.js';
import { FastifyPageAdapter, type FastifyInstance } from './adapters/fastify.page-adapter.js';
import type { PageAdapter } from './adapters/page-adapter.interface.js';
import { CACHE_HTTP_OPTIONS } from './http-cache.constants.js';
import { headerKeyOf, normalizeVary, pageKeyOf, urlHashOf, type PageRequest } from './page-keys.js';
import { patchResponseHeaders, varyHeaderNames } from './response-headers.js';
import {
  refusalOf,
  storeTimeoutOf,
  toStoredPage,
  type CapturedResponse,
  type RequestCredentials,
  type StoredPage,
} from './stored-page.js';

const REPLYING_METHODS = ['reply', 'render'] as const;
const PATCHED = Symbol('nestjs-caches:answers-from-cache');

type HttpAdapterLike = Record<(typeof REPLYING_METHODS)[number], (response: unknown, ...rest: unknown[]) => unknown> & {
  getType(): string;
  getInstance(): unknown;
  [PATCHED]?: WeakSet<object>;
};

/** Where and how long a route's pages are kept: `@CachePage`'s settings, or the per-site cache's. */
export interface PageRule {
  /** Seconds; `undefined` takes the response's `max-age`, else the alias default. */
  timeout: number | undefined;
  cache: string;
  keyPrefix: string;
  /** Seconds a page is kept past its timeout, to answer `STALE` while one request recomputes it. */
  staleWhileRevalidate: number;
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
  /** Misses being computed, by URL and method; each entry goes when its response is over. */
  private readonly computing = new Map<string, Promise<void>>();

  constructor(
    readonly caches: Caches,
    @Inject(CACHE_HTTP_OPTIONS) readonly options: CacheModuleOptions,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.statusHeader = options.statusHeader ?? 'X-Cache';
    if (options.site !== undefined) caches.get(options.site.cache ?? 'default'); // names the aliases if absent
  }

  /** Picks the platform, and makes Nest skip its reply to a response the cache already wrote. */
  onModuleInit(): void {
    const http = this.adapterHost?.httpAdapter as unknown as HttpAdapterLike | null | undefined;
    if (!http) return; // an application context (null) or a testing module (undefined): no HTTP
    this.platform =
      http.getType() === 'fastify'
        ? new FastifyPageAdapter(http.getInstance() as FastifyInstance)
        : new ExpressPageAdapter();
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
   * The stored page for this request, if any (Django's `FetchFromCacheMiddleware`): the URL's
   * learned `Vary` names the headers of the key; a HEAD may be answered by a stored GET.
   */
  async lookup(cache: Cache, rule: PageRule, request: PageRequest): Promise<StoredPage | undefined> {
    const urlHash = urlHashOf(request);
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
    const timeout: TimeoutSeconds = storeTimeoutOf(response, rule.timeout, cache.defaultTimeout);
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
  computingNow(flight: string): Promise<void> | undefined {
    return this.computing.get(flight);
  }

  /** Records a miss being computed until `done` settles. */
  startComputing(flight: string, done: Promise<void>): void {
    this.computing.set(flight, done);
    void done.finally(() => {
      if (this.computing.get(flight) === done) this.computing.delete(flight);
    });
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
