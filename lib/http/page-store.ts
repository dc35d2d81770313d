import type { Cache } from '../core/cache.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import { headerKeyOf, pageKeyOf, urlHashOf, type PageRequest } from './page-keys.js';
import type { StoredPage } from './stored-page.js';

/** What a lookup found: the page for the request, and the request headers the URL's pages vary on. */
export interface PageLookup {
  readonly page: StoredPage | undefined;
  /** `undefined` until a page of the URL is kept. */
  readonly varyOn: readonly string[] | undefined;
}

const NOTHING: PageLookup = { page: undefined, varyOn: undefined };

/**
 * Where pages are kept in one alias (Django's `get_cache_key` / `learn_cache_key` over a cache):
 * a URL's header key names the request headers its pages vary on; each page is kept under the
 * values of those headers. Nothing here knows of Nest or of the rules that decide what is kept.
 *
 * It fails open: a store that errors is a miss, and the app answers from the handler. The alias
 * has already logged the failure (once per burst) and counted it.
 */
export const PageStore = {
  /** The stored page for this request, if any: a HEAD may be answered by a stored GET. */
  async lookup(
    cache: Cache,
    keyPrefix: string,
    request: PageRequest,
    urlHash = urlHashOf(request),
  ): Promise<PageLookup> {
    const varyOn = await quietGet<string[]>(cache, headerKeyOf(keyPrefix, urlHash));
    if (varyOn === undefined) return NOTHING;
    const methods = request.method === 'HEAD' ? ['GET', 'HEAD'] : [request.method];
    for (const method of methods) {
      const page = await quietGet<StoredPage>(cache, pageKeyOf(keyPrefix, method, urlHash, request, varyOn));
      if (page !== undefined) return { page, varyOn };
    }
    return { page: undefined, varyOn };
  },

  /** Keeps `page` for `keptSeconds` (`null` forever) under this request's key; resolves once kept. */
  async keep(
    cache: Cache,
    keyPrefix: string,
    request: PageRequest,
    page: StoredPage,
    varyOn: readonly string[],
    keptSeconds: TimeoutSeconds,
  ): Promise<void> {
    const urlHash = urlHashOf(request);
    // The page is sent first: a lookup that finds the header key then finds the page too, on a
    // store that answers one connection's commands in order.
    await Promise.all([
      quietSet(cache, pageKeyOf(keyPrefix, request.method, urlHash, request, varyOn), page, keptSeconds),
      quietSet(cache, headerKeyOf(keyPrefix, urlHash), varyOn, keptSeconds),
    ]);
  },

  /**
   * One string for the page this request would get, as precise as the store knows it: the URL
   * until the URL's `Vary` is learned, then the values of the headers it names.
   */
  variantOf(
    keyPrefix: string,
    request: PageRequest,
    varyOn: readonly string[] | undefined,
    urlHash = urlHashOf(request),
  ): string {
    return varyOn === undefined
      ? headerKeyOf(keyPrefix, urlHash)
      : pageKeyOf(keyPrefix, request.method, urlHash, request, varyOn);
  },
};

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
    // see PageStore
  }
}
