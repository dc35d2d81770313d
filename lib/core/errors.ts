/**
 * The root of every error this library throws, so `catch (e) { if (e instanceof CacheError) ... }`
 * separates cache trouble from the application's own.
 *
 * @example try { await cache.incr('hits') } catch (e) { if (e instanceof CacheKeyError) await cache.set('hits', 1) }
 */
export class CacheError extends Error {
  override name = 'CacheError';
}

/** A key is missing where it must exist (`incr`, `incrVersion`), or is not valid for the backend. */
export class CacheKeyError extends CacheError {
  override name = 'CacheKeyError';
}

/** A value (or a timeout) cannot be stored: not serializable, too large, or not a number for `incr`. */
export class CacheValueError extends CacheError {
  override name = 'CacheValueError';
}

/** The backend failed or did not answer in time. `cause` holds the backend's own error. */
export class CacheBackendError extends CacheError {
  override name = 'CacheBackendError';
}

/** The cache configuration is wrong; raised at boot and naming the alias and the field. */
export class CacheConfigError extends CacheError {
  override name = 'CacheConfigError';
}

/** An alias asked for that no entry configures, with the configured ones listed. */
export function unknownAliasError(alias: string, configured: Iterable<string>): CacheConfigError {
  return new CacheConfigError(
    `No cache alias '${alias}'; configured: ${[...configured].join(', ')}. Add it to CacheModule.forRoot().`,
  );
}
