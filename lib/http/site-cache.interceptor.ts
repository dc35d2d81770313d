import { Injectable } from '@nestjs/common';
import { CachePageInterceptor } from './cache-page.interceptor.js';
import type { PageRule } from './page-rule.js';

/**
 * The per-site cache (Django's cache middleware pair), bound to every route when
 * `CacheModule.forRoot(caches, { site })` asks for it. A route's own `@CachePage` wins;
 * `@NeverCache()` opts a route out.
 */
@Injectable()
export class SiteCacheInterceptor extends CachePageInterceptor {
  protected override siteRule(): PageRule | undefined {
    const site = this.pageCache.options.site;
    if (site === undefined) return undefined;
    return {
      timeout: undefined, // the response's max-age wins over site.timeout, as in Django's middleware
      fallbackTimeout: site.timeout,
      cache: site.cache ?? 'default',
      keyPrefix: site.keyPrefix ?? '',
      staleWhileRevalidate: site.staleWhileRevalidate ?? 0,
    };
  }
}
