/**
 * Django's `django.utils.cache` header helpers, on any response that can read and write a header:
 * `Cache-Control` merging, `Vary` patching, `Expires`/`max-age` for stored pages, and the headers
 * that forbid caching.
 */
export interface HeaderAccess {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
}

/** Directive values as `@CacheControl` takes them: `true` for a bare directive, numbers for ages. */
export interface CacheControlDirectives {
  public?: boolean;
  private?: boolean;
  noCache?: boolean;
  noStore?: boolean;
  noTransform?: boolean;
  mustRevalidate?: boolean;
  proxyRevalidate?: boolean;
  mustUnderstand?: boolean;
  immutable?: boolean;
  maxAge?: number;
  sMaxage?: number;
  staleWhileRevalidate?: number;
  staleIfError?: number;
}

type Directives = Map<string, string | true>;

/** `Cache-Control` as lower-cased directive → value (`true` for bare directives). */
export function parseCacheControl(header: string | undefined): Directives {
  const directives: Directives = new Map();
  if (!header) return directives;
  for (const part of header.split(',')) {
    const [name, ...rest] = part.split('=');
    const directive = name!.trim().toLowerCase();
    if (directive === '') continue;
    directives.set(directive, rest.length === 0 ? true : rest.join('=').trim());
  }
  return directives;
}

function formatCacheControl(directives: Directives): string {
  return [...directives].map(([name, value]) => (value === true ? name : `${name}=${value}`)).join(', ');
}

/** `maxAge` → `max-age`, `sMaxage` → `s-maxage`. */
function directiveName(option: string): string {
  return option === 'sMaxage' ? 's-maxage' : option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/**
 * Merges directives into `Cache-Control` as Django's `patch_cache_control` does: `public` and
 * `private` exclude each other, a new `max-age` never raises an existing one, `false` removes.
 */
export function patchCacheControl(headers: HeaderAccess, options: CacheControlDirectives): void {
  const directives = parseCacheControl(headers.get('cache-control'));
  for (const [option, value] of Object.entries(options) as Array<[string, boolean | number | undefined]>) {
    if (value === undefined) continue;
    const name = directiveName(option);
    if (value === false) {
      directives.delete(name);
      continue;
    }
    if (name === 'private') directives.delete('public');
    if (name === 'public') directives.delete('private');
    let written: string | true = value === true ? true : String(Math.max(0, Math.floor(value)));
    if (name === 'max-age' && directives.has('max-age') && typeof written === 'string') {
      written = String(Math.min(Number(directives.get('max-age')), Number(written)));
    }
    directives.set(name, written);
  }
  headers.set('cache-control', formatCacheControl(directives));
}

/** The response's `max-age` in seconds, or `undefined` when it has none (or not a number). */
export function getMaxAge(headers: HeaderAccess): number | undefined {
  const value = parseCacheControl(headers.get('cache-control')).get('max-age');
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** The header names in `Vary`, as written. */
export function varyHeaderNames(headers: HeaderAccess): string[] {
  const vary = headers.get('vary');
  if (!vary) return [];
  return vary
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

export function hasVaryHeader(headers: HeaderAccess, name: string): boolean {
  const wanted = name.toLowerCase();
  return varyHeaderNames(headers).some((header) => header.toLowerCase() === wanted);
}

/** Adds names to `Vary` once each, case-insensitively (Django's `patch_vary_headers`); `*` replaces all. */
export function patchVaryHeaders(headers: HeaderAccess, names: readonly string[]): void {
  const current = varyHeaderNames(headers);
  const seen = new Set(current.map((name) => name.toLowerCase()));
  for (const name of names) {
    if (!seen.has(name.toLowerCase())) {
      seen.add(name.toLowerCase());
      current.push(name);
    }
  }
  headers.set('vary', seen.has('*') ? '*' : current.join(', '));
}

/** `Expires` (if absent) and `max-age` for a page kept `timeoutSeconds` (Django's `patch_response_headers`). */
export function patchResponseHeaders(headers: HeaderAccess, timeoutSeconds: number, now = Date.now()): void {
  const seconds = Math.max(0, timeoutSeconds);
  if (headers.get('expires') === undefined) headers.set('expires', new Date(now + seconds * 1000).toUTCString());
  patchCacheControl(headers, { maxAge: seconds });
}

/**
 * `Expires` and `max-age` saying exactly how long a stored page is kept, in place of what the
 * response said: a page served from the cache never claims a freshness other than its own
 * (Django keeps an existing `Expires` and the lower `max-age`; here `@CachePage(timeout)`, which
 * wins over `max-age`, says so).
 */
export function setStoredFreshness(headers: HeaderAccess, timeoutSeconds: number, now = Date.now()): void {
  const seconds = Math.max(0, timeoutSeconds);
  headers.set('expires', new Date(now + seconds * 1000).toUTCString());
  const directives = parseCacheControl(headers.get('cache-control'));
  directives.set('max-age', String(Math.floor(seconds)));
  headers.set('cache-control', formatCacheControl(directives));
}

/** Headers telling every cache not to keep the response (Django's `add_never_cache_headers`). */
export function addNeverCacheHeaders(headers: HeaderAccess, now = Date.now()): void {
  patchResponseHeaders(headers, 0, now);
  patchCacheControl(headers, { noCache: true, noStore: true, mustRevalidate: true, private: true });
}
