import { CacheKeyError } from './errors.js';

/** Builds the key stored in the backend from the user's key, the alias's prefix and a version. */
export type KeyFunction = (key: string, keyPrefix: string, version: number) => string;

/** Django's default: `prefix:version:key`. */
export const defaultKeyFunction: KeyFunction = (key, keyPrefix, version) => `${keyPrefix}:${version}:${key}`;

/**
 * Where the library keeps its own entries: generations (`lib/invalidation`), page headers and
 * pages (`lib/http/page-keys.ts`), template fragments (`lib/fragments`). Keys built from method
 * arguments never land there (see `isInternalKey`), so user input cannot overwrite them.
 */
const INTERNAL_KEY_PREFIXES = ['__nestjs_caches__:', 'views.decorators.cache.', 'template.cache.'];

export function isInternalKey(key: string): boolean {
  return INTERNAL_KEY_PREFIXES.some((prefix) => key.startsWith(prefix));
}

/** Memcached's limit, which Django applies to every backend so that code stays portable. */
export const MAX_KEY_LENGTH = 250;

/** Why a made key would be refused by memcached, or `undefined` when it is safe everywhere. */
export function keyProblem(key: string): string | undefined {
  if (key.length > MAX_KEY_LENGTH) {
    return `Cache key is longer than ${MAX_KEY_LENGTH} characters (${key.length}); memcached refuses it. Hash long keys, e.g. with createHash('sha256').`;
  }
  if (hasUnsafeCharacter(key)) {
    return `Cache key '${key}' contains a space or control character; memcached refuses it. Encode the key, e.g. with encodeURIComponent().`;
  }
  return undefined;
}

// Memcached's protocol is line based: spaces and control characters would split a command.
// A loop over char codes: this runs on every cache call and beats a regular expression.
function hasUnsafeCharacter(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}

// Warnings are emitted once per distinct key; the set is capped so that a stream of
// bad keys cannot grow memory without bound.
const WARNED_KEYS_LIMIT = 1000;
const warnedKeys = new Set<string>();

/** Warns, once per key, that a key would not work on memcached (Django's `CacheKeyWarning`). */
export function warnAboutKey(key: string, problem: string): void {
  if (warnedKeys.has(key)) return;
  if (warnedKeys.size >= WARNED_KEYS_LIMIT) warnedKeys.clear();
  warnedKeys.add(key);
  process.emitWarning(problem, { type: 'CacheKeyWarning', code: 'NESTJS_CACHES_KEY' });
}

/** Throws instead of warning: for backends (memcached) that cannot store such a key at all. */
export function assertKeyIsSafe(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new CacheKeyError(problem);
}

/**
 * The glob pattern (redis SCAN) of every key an alias makes, whatever the key and the version: the key
 * function applied to marker values, glob-escaped, with the markers turned into `*`. A key
 * function that hides the key (e.g. hashes it) gives no pattern: such aliases can only clear
 * with `options.clearAll` (FLUSHDB).
 */
export function clearPatternOf(keyFunction: KeyFunction, keyPrefix: string): string | undefined {
  const keyMarker = '\u0001nestjs-caches-key\u0001';
  const versionMarker = 918_273_645;
  const sample = keyFunction(keyMarker, keyPrefix, versionMarker);
  if (!sample.includes(keyMarker)) return undefined;
  return sample
    .split(keyMarker)
    .map((part) =>
      part
        .split(String(versionMarker))
        .map((text) => text.replace(/[*?[\]\\]/g, '\\$&'))
        .join('*'),
    )
    .join('*');
}
