import type { Dependency } from '../invalidation/dependencies.js';
import type { PageRules } from './rules/page-rules.js';

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
  /** What may be stored and what a stored page may answer; Django's rules (`DJANGO_RULES`) when absent. */
  rules?: PageRules;
}
