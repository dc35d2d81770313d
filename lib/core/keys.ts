import { createHash } from 'node:crypto';
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

/**
 * Memcached's limit in bytes of UTF-8, which is what memcached counts (Django counts characters,
 * so a key of 100 CJK characters passes Django's check and is refused by the server). Applied to
 * every backend so that code stays portable.
 */
export const MAX_KEY_LENGTH = 250;

// A UTF-16 code unit is at most 3 bytes of UTF-8 (a surrogate pair, two units, is 4 bytes): keys of
// up to this many units always fit, and are not measured.
const ALWAYS_FITS = Math.floor(MAX_KEY_LENGTH / 3);
// How much of a long key a message quotes: enough to recognise it, not a page of log.
const QUOTED_KEY_LENGTH = 100;

/** Whether a made key is over memcached's 250 bytes of UTF-8. */
export function isKeyTooLong(key: string): boolean {
  if (key.length <= ALWAYS_FITS) return false;
  return key.length > MAX_KEY_LENGTH || Buffer.byteLength(key, 'utf8') > MAX_KEY_LENGTH;
}

/**
 * A key part that fits: `text` itself when it is at most `budget` bytes of UTF-8 and holds no space
 * or control character, else its hash.
 */
export function fitKey(text: string, budget: number): string {
  // A code unit is at most 3 bytes of UTF-8: short text is not measured.
  const fits = text.length * 3 <= budget || Buffer.byteLength(text, 'utf8') <= budget;
  return fits && !hasUnsafeCharacter(text) ? text : hashKey(text);
}

/** `sha256:` and the hash of `text` (51 characters, safe on every backend), the same on every call. */
export function hashKey(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('base64url')}`;
}

/** Why a made key would be refused by memcached, or `undefined` when it is safe everywhere. */
export function keyProblem(key: string): string | undefined {
  if (isKeyTooLong(key)) {
    return `Cache key ${quoteKey(key)} is ${Buffer.byteLength(key, 'utf8')} bytes of UTF-8, longer than ${MAX_KEY_LENGTH}; memcached refuses it. Hash long keys, e.g. with createHash('sha256').`;
  }
  if (hasUnsafeCharacter(key)) {
    return `Cache key ${quoteKey(key)} contains a space or control character; memcached refuses it. Encode the key, e.g. with encodeURIComponent().`;
  }
  return undefined;
}

/**
 * The key as a message shows it: quoted with its control characters escaped, and a long one cut
 * after its beginning (never inside a surrogate pair).
 */
function quoteKey(key: string): string {
  if (key.length <= QUOTED_KEY_LENGTH) return JSON.stringify(key);
  const end = isHighSurrogate(key.charCodeAt(QUOTED_KEY_LENGTH - 1)) ? QUOTED_KEY_LENGTH - 1 : QUOTED_KEY_LENGTH;
  return `${JSON.stringify(key.slice(0, end))}… (${key.length - end} more characters)`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
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

// Made keys a store remembers for its default version: a stream of distinct keys is forgotten
// in one go when it reaches this many, so memory stays bounded (a few MB at most).
const MAX_REMEMBERED_KEYS = 10_000;

/**
 * One store's keys: made by its key function (with its prefix and version) and checked against
 * memcached's rules (Django's `make_and_validate_key`). A safe key of the default version is made
 * and checked once and remembered: the hottest calls (a hit) then look it up instead, and the
 * backend gets the same string each time, whose hash is already known.
 */
export class StoreKeys {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly settings: { alias: string; keyFunction: KeyFunction; keyPrefix: string; version: number },
    private readonly rejectsUnsafeKeys: boolean,
  ) {}

  /** The key as stored in the backend. */
  make(key: string, version = this.settings.version): string {
    return this.settings.keyFunction(String(key), this.settings.keyPrefix, version);
  }

  /** The glob pattern of this store's keys starting with `start` (see `clearPatternOf`). */
  clearPattern(start: string): string | undefined {
    return clearPatternOf(this.settings.keyFunction, this.settings.keyPrefix, start);
  }

  /** The made key, checked (see `check`). */
  valid(key: string, version: number | undefined): string {
    if (version === undefined) {
      const known = this.known.get(key);
      if (known !== undefined) return known;
    }
    const made = this.make(key, version);
    if (this.check(made) && version === undefined) {
      if (this.known.size >= MAX_REMEMBERED_KEYS) this.known.clear();
      this.known.set(key, made);
    }
    return made;
  }

  /**
   * Whether a made key works on memcached; if not, a `CacheKeyError` for backends that cannot store
   * it, and a `CacheKeyWarning` once per key for the others (as Django does).
   */
  check(made: string): boolean {
    const problem = keyProblem(made);
    if (problem === undefined) return true;
    if (this.rejectsUnsafeKeys)
      throw new CacheKeyError(`Cache '${this.settings.alias}' cannot store this key: ${problem}`);
    warnAboutKey(made, problem);
    return false;
  }
}

/** Throws instead of warning: for backends (memcached) that cannot store such a key at all. */
export function assertKeyIsSafe(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new CacheKeyError(problem);
}

/**
 * The glob pattern (redis SCAN) of every key an alias makes whose user key starts with `keyStart`
 * (default: every key), whatever the version: the key function applied to marker values,
 * glob-escaped, with the markers turned into `*`. A key function that hides the key (e.g. hashes
 * it) gives no pattern: such aliases can only clear with `options.clearAll` (FLUSHDB).
 */
export function clearPatternOf(keyFunction: KeyFunction, keyPrefix: string, keyStart = ''): string | undefined {
  const keyMarker = '\u0001nestjs-caches-key\u0001';
  const versionMarker = 918_273_645;
  const sample = keyFunction(keyMarker, keyPrefix, versionMarker);
  if (!sample.includes(keyMarker)) return undefined;
  return sample
    .split(keyMarker)
    .map((part) => part.split(String(versionMarker)).map(escapeGlob).join('*'))
    .join(`${escapeGlob(keyStart)}*`);
}

const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/** A redis glob pattern (`*`, `?`, backslash escapes; what `clearPatternOf` makes) as a regular expression. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else source += (char === '\\' ? (pattern[++i] ?? '') : char).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
