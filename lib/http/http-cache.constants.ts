/** Metadata keys of the HTTP cache decorators, read by the page cache interceptor. */
export const CACHE_PAGE_METADATA = 'nestjs-caches:cache-page';
export const NEVER_CACHE_METADATA = 'nestjs-caches:never-cache';
export const CACHE_CONTROL_METADATA = 'nestjs-caches:cache-control';
export const VARY_ON_METADATA = 'nestjs-caches:vary-on';

/** Holds the validated `CacheModuleOptions`. */
export const CACHE_HTTP_OPTIONS = Symbol('nestjs-caches:http-options');
