import { INTERCEPTORS_METADATA } from '@nestjs/common/constants.js';
import { describeValue } from '../core/describe-value.js';
import { CacheConfigError } from '../core/errors.js';
import { checkDependencies, type Dependency } from '../invalidation/dependencies.js';
import { CachePageInterceptor } from './cache-page.interceptor.js';
import {
  CACHE_CONTROL_METADATA,
  CACHE_PAGE_METADATA,
  NEVER_CACHE_METADATA,
  VARY_ON_METADATA,
} from '../cache.constants.js';
import type { PageRule } from './page-rule.js';
import type { CacheControlDirectives } from './response-headers.js';

/** How `@CachePage` keeps a route's responses. */
export interface CachePageOptions {
  /** The alias pages are kept in (`default`). */
  cache?: string;
  /** Keeps these pages apart from others with the same URL (Django's `key_prefix`). */
  keyPrefix?: string;
  /**
   * Seconds a page is kept past its timeout: while one request recomputes it, the others are
   * answered with the old page (`X-Cache: STALE`) instead of waiting. `0` by default.
   */
  staleWhileRevalidate?: number;
  /**
   * Entities the page is computed from: the key then includes their generations, which the
   * TypeORM subscriber moves on when rows change (see "Invalidation when rows change"). Row ids
   * come from the request, since pipes have not run yet: `[Recipe, (request) => request.params.id]`.
   */
  dependsOn?: Dependency<any>[];
}

type CacheDecorator = ClassDecorator & MethodDecorator;

/**
 * Caches whole responses of GET and HEAD requests for `timeout` seconds (Django's `cache_page`),
 * on a route or on every route of a controller. A hit is written from the stored bytes, after
 * the guards and before the handler.
 *
 * @example @Get() @CachePage(60 * 15) list() { ... }
 */
export function CachePage(timeout: number, options: CachePageOptions = {}): CacheDecorator {
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
    throw new CacheConfigError(
      `@CachePage(timeout) takes a number of seconds >= 0; got ${describeValue(timeout)}. Use @NeverCache() to keep nothing.`,
    );
  }
  const staleWhileRevalidate = options.staleWhileRevalidate ?? 0;
  if (typeof staleWhileRevalidate !== 'number' || !Number.isFinite(staleWhileRevalidate) || staleWhileRevalidate < 0) {
    throw new CacheConfigError(
      `@CachePage's staleWhileRevalidate takes a number of seconds >= 0; got ${describeValue(staleWhileRevalidate)}.`,
    );
  }
  const dependsOn = checkDependencies(options.dependsOn, '@CachePage');
  const metadata: PageRule = {
    timeout,
    cache: options.cache ?? 'default',
    keyPrefix: options.keyPrefix ?? '',
    staleWhileRevalidate,
    ...(dependsOn && dependsOn.length > 0 ? { dependsOn } : {}),
  };
  return record(CACHE_PAGE_METADATA, () => metadata);
}

/** Adds headers that stop browsers and caches keeping the response, and opts out of the per-site cache. */
export function NeverCache(): CacheDecorator {
  return record(NEVER_CACHE_METADATA, () => true);
}

/**
 * Merges directives into the response's `Cache-Control` (Django's `cache_control`).
 *
 * @example @CacheControl({ public: true, maxAge: 3600 })
 */
export function CacheControl(directives: CacheControlDirectives): CacheDecorator {
  return record<CacheControlDirectives>(CACHE_CONTROL_METADATA, (previous) => ({ ...previous, ...directives }));
}

/**
 * Adds request headers to the response's `Vary`, so that the page cache keeps one copy per value
 * (Django's `vary_on_headers`).
 *
 * @example @VaryOnHeaders('Accept-Language')
 */
export function VaryOnHeaders(...headers: string[]): CacheDecorator {
  return record<string[]>(VARY_ON_METADATA, (previous = []) => [...previous, ...headers]);
}

/** `Vary: Cookie`: one copy per visitor's cookies (Django's `vary_on_cookie`). */
export function VaryOnCookie(): CacheDecorator {
  return VaryOnHeaders('Cookie');
}

/**
 * Records metadata on the route (or controller), merged with what is already there so that stacked
 * decorators add up in any order, and puts the page cache interceptor on it once.
 */
function record<T>(key: string, merge: (previous: T | undefined) => T): CacheDecorator {
  return ((target: object, _property?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder = (descriptor ? descriptor.value : target) as object;
    Reflect.defineMetadata(key, merge(Reflect.getMetadata(key, holder) as T | undefined), holder);
    const interceptors = (Reflect.getMetadata(INTERCEPTORS_METADATA, holder) as unknown[] | undefined) ?? [];
    if (!interceptors.includes(CachePageInterceptor)) {
      Reflect.defineMetadata(INTERCEPTORS_METADATA, [...interceptors, CachePageInterceptor], holder);
    }
  }) as CacheDecorator;
}
