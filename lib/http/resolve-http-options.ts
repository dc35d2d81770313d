import { describeValue } from '../core/describe-value.js';
import { CacheConfigError } from '../core/errors.js';
import { checkKnownFields } from '../core/known-fields.js';
import type { CacheModuleOptions } from '../interfaces/cache-options.interface.js';

const SITE_FIELDS = ['cache', 'timeout', 'keyPrefix', 'staleWhileRevalidate'];
// `invalidation` is checked by resolveInvalidationOptions, `metrics` by resolveMetricsOptions,
// `tracing` and `panel` by createObservability.
const OPTION_FIELDS = [
  'site',
  'statusHeader',
  'allowedHosts',
  'serverHits',
  'invalidation',
  'metrics',
  'tracing',
  'panel',
];
// RFC 9110 §5.1: a field name is a token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Checks `forRoot`'s second argument, naming the field and the fix. */
export function resolveHttpOptions(options: CacheModuleOptions | undefined): CacheModuleOptions {
  const given = options ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new CacheConfigError(
      `CacheModule options must be an object such as { site: { cache: 'default' } }; got ${describeValue(given)}.`,
    );
  }
  checkKnownFields(given, OPTION_FIELDS, 'CacheModule options');
  const { site, statusHeader } = given;
  if (statusHeader !== undefined && (typeof statusHeader !== 'string' || !TOKEN.test(statusHeader))) {
    throw new CacheConfigError(
      `statusHeader must be an HTTP header name such as 'X-Cache'; got ${describeValue(statusHeader)}.`,
    );
  }
  if (
    given.allowedHosts !== undefined &&
    !(Array.isArray(given.allowedHosts) && given.allowedHosts.every((host) => typeof host === 'string' && host !== ''))
  ) {
    throw new CacheConfigError(
      `allowedHosts must be a list of host names such as ['example.com', '.example.com']; got ${describeValue(given.allowedHosts)}.`,
    );
  }
  if (given.serverHits !== undefined && typeof given.serverHits !== 'boolean') {
    throw new CacheConfigError(
      `serverHits must be true or false (false: no page hit is answered before the framework); got ${describeValue(given.serverHits)}.`,
    );
  }
  if (site !== undefined) {
    if (site === null || typeof site !== 'object' || Array.isArray(site)) {
      throw new CacheConfigError(
        `site must be an object such as { cache: 'default', timeout: 600 }; got ${describeValue(site)}.`,
      );
    }
    checkKnownFields(site, SITE_FIELDS, 'site');
    const { timeout, cache, keyPrefix, staleWhileRevalidate } = site;
    if (timeout !== undefined && !isSeconds(timeout)) {
      throw new CacheConfigError(
        `site.timeout must be a number of seconds >= 0, used when a response has no max-age (or left out: the alias's default); got ${describeValue(timeout)}.`,
      );
    }
    if (staleWhileRevalidate !== undefined && !isSeconds(staleWhileRevalidate)) {
      throw new CacheConfigError(
        `site.staleWhileRevalidate must be a number of seconds >= 0; got ${describeValue(staleWhileRevalidate)}.`,
      );
    }
    if (cache !== undefined && (typeof cache !== 'string' || cache === '')) {
      throw new CacheConfigError(`site.cache must name a cache alias; got ${describeValue(cache)}.`);
    }
    if (keyPrefix !== undefined && typeof keyPrefix !== 'string') {
      throw new CacheConfigError(`site.keyPrefix must be a string; got ${describeValue(keyPrefix)}.`);
    }
  }
  return given;
}

function isSeconds(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
