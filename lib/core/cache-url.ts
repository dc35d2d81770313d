import type {
  AnyCacheEntryOptions,
  BuiltInBackendName,
  CacheEntryOptions,
} from '../interfaces/cache-options.interface.js';
import { CacheConfigError } from './errors.js';
import { unknownFieldError } from './known-fields.js';

const BACKEND_OF_SCHEME: Record<string, BuiltInBackendName> = {
  'locmem:': 'locmem',
  'file:': 'filesystem',
  'dummy:': 'dummy',
  'redis:': 'redis',
  'rediss:': 'redis',
  'memcached:': 'memcached',
  'db:': 'database',
};

/**
 * Reads a cache URL into an entry, so a `CACHE_URL` environment variable can configure an alias.
 * Query parameters set `timeout` (seconds, or `none` for never), `keyPrefix`, `version`,
 * `maxEntries` and `cullFrequency`.
 *
 * @example parseCacheUrl('file:///var/tmp/cache?timeout=600') // { backend: 'filesystem', location: '/var/tmp/cache', timeout: 600 }
 */
export function parseCacheUrl(url: string, alias = 'default'): CacheEntryOptions {
  let parsed: URL;
  // A server list (`memcached://h1:11211,h2:11211`) is no valid URL host: parse the first server.
  const servers = /^memcached:\/\/([^/?]*)/.exec(url)?.[1]?.split(',');
  try {
    parsed = new URL(servers ? url.replace(servers.join(','), servers[0]!) : url);
  } catch {
    throw new CacheConfigError(
      `caches.${alias}: '${url}' is not a cache URL; use e.g. 'locmem://name', 'file:///var/tmp/cache' or 'dummy://'.`,
    );
  }
  const backend = BACKEND_OF_SCHEME[parsed.protocol];
  if (backend === undefined) {
    throw new CacheConfigError(
      `caches.${alias}: unknown cache URL scheme '${parsed.protocol}' in '${url}'; known: ${Object.keys(BACKEND_OF_SCHEME).join(' ')}.`,
    );
  }
  const entry: AnyCacheEntryOptions = { backend };
  if (backend === 'filesystem') entry.location = decodeURIComponent(parsed.pathname);
  if (backend === 'locmem') entry.location = decodeURIComponent(parsed.host + parsed.pathname.replace(/^\/$/, ''));
  if (backend === 'database') entry.location = decodeURIComponent(parsed.host);
  if (backend === 'memcached') entry.location = servers;
  applyQuery(entry, parsed.searchParams, alias);
  if (backend === 'redis') entry.location = withoutQuery(parsed);
  // Each scheme sets the fields its backend needs; what is missing (a file:// without a path) fails at boot.
  return entry as CacheEntryOptions;
}

/** The redis URL as ioredis takes it: our settings removed from the query. */
function withoutQuery(url: URL): string {
  const copy = new URL(url.href);
  copy.search = '';
  return copy.href;
}

const URL_PARAMETERS = ['timeout', 'keyPrefix', 'version', 'maxEntries', 'cullFrequency'];

function applyQuery(entry: AnyCacheEntryOptions, query: URLSearchParams, alias: string): void {
  const number = (name: string, text: string): number => {
    const value = Number(text);
    if (text.trim() === '' || Number.isNaN(value)) {
      throw new CacheConfigError(`caches.${alias}.${name}: '${text}' in the cache URL is not a number.`);
    }
    return value;
  };
  for (const [name, text] of query) {
    if (name === 'timeout') entry.timeout = text === 'none' ? null : number(name, text);
    else if (name === 'keyPrefix' || name === 'key_prefix') entry.keyPrefix = text;
    else if (name === 'version') entry.version = number(name, text);
    else if (name === 'maxEntries' || name === 'cullFrequency')
      entry.options = { ...entry.options, [name]: number(name, text) };
    else throw unknownFieldError(`caches.${alias}`, name, URL_PARAMETERS, 'a cache URL parameter');
  }
}
