import { randomBytes } from 'node:crypto';
import type { Cache } from '../core/cache.js';
import { fitKey } from '../core/keys.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import { generationKeysOf, type Dependency } from './dependencies.js';

// How long generations live. A generation should outlive every entry that read it: an entry that
// outlives its generation is never served stale (the generation comes back with a new token), but
// it is wasted, a miss long before its timeout. `add` cannot lengthen a generation that exists and
// `touch` cannot tell what is left of one, so a store gives ONE lifetime to every generation it
// creates, and that lifetime only grows: the floor (`invalidation.generationTimeout`, default a
// day), raised to twice the longest entry timeout that has read generations in it (`null`, never
// expire, once an entry that never expires has). The call that raises it also touches the
// generations it read to the new lifetime: one more round trip, once per raise; a hit stays one
// read. Left over, each costing misses only: generations made before a raise that this call did
// not read, generations made by another instance that has not met the long entry yet, and a touch
// shortening one that an instance with a longer maximum made. A floor of at least twice the
// longest timeout in use removes all three: every instance then creates every generation with
// that lifetime from boot, and never touches one.
export const DEFAULT_GENERATION_TIMEOUT_SECONDS = 24 * 60 * 60;
// Joined tokens longer than this (more than six) are hashed, so that a key part stays short
// whatever the count of dependencies.
const MAX_JOINED_LENGTH = 80;

/** The lifetime of the generations a store creates: seconds, or `null` (as long as the store keeps them). */
interface GenerationLifetime {
  timeout: TimeoutSeconds;
}

// Held by the store itself (`Cache.generationLifetime`), so each store instance keeps its own.
function lifetimeOf(cache: Cache): GenerationLifetime {
  const lifetime = cache.generationLifetime;
  if (lifetime.timeout === undefined) lifetime.timeout = DEFAULT_GENERATION_TIMEOUT_SECONDS;
  return lifetime as GenerationLifetime;
}

/**
 * Sets the floor of the generations' lifetime in a store (`CacheModule`'s
 * `invalidation.generationTimeout`): at least this many seconds, or `null` for never expire.
 */
export function setGenerationFloor(cache: Cache, timeout: TimeoutSeconds): void {
  cache.generationLifetime.timeout = timeout; // at boot, before any generation is read
}

/** How long the generations this store creates now live (seconds, `null`: as long as the store keeps them). */
export function generationTimeoutOf(cache: Cache): TimeoutSeconds {
  return lifetimeOf(cache).timeout;
}

/** Lengthens the lifetime to twice an entry's timeout when that is longer; true when it grew. */
function cover(lifetime: GenerationLifetime, entryTimeout: TimeoutSeconds): boolean {
  if (lifetime.timeout === null) return false;
  if (entryTimeout === null) {
    lifetime.timeout = null;
    return true;
  }
  if (!(entryTimeout * 2 > lifetime.timeout)) return false; // also NaN: the cache rejects it itself
  lifetime.timeout = entryTimeout * 2;
  return true;
}

/**
 * A generation is a random token, never a counter: a generation key that disappears (evicted,
 * expired, or deleted by a bump) is created again with a fresh token, so it can never come back
 * to a value an old entry was stored under. 72 random bits: collisions are out of reach.
 */
function newToken(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * The current generations of `keys`, read in one `getMany`; those missing are created with `add`
 * (the first writer wins, the others read its token). Backend errors propagate: callers fail open.
 */
export async function readGenerations(
  cache: Cache,
  keys: readonly string[],
  timeout: TimeoutSeconds,
): Promise<string[]> {
  const found = await cache.getMany<unknown>(keys);
  if (found.size === keys.length) return keys.map((key) => String(found.get(key)));
  return Promise.all(
    keys.map(async (key) => {
      const current = found.get(key);
      if (current !== undefined) return String(current);
      const token = newToken();
      if (await cache.add(key, token, timeout)) return token;
      const winner = await cache.get<unknown>(key);
      // Gone again already (evicted, or bumped): this token is as new as any, and stores nothing.
      return winner === undefined ? token : String(winner);
    }),
  );
}

/**
 * The part of a cache key that makes it *versioned*: the current generations of the
 * dependencies, for this call's input. Read before the value is computed, so a value computed
 * from rows that change meanwhile is stored under the old generations and never read again.
 * This is what `@Cacheable`, `@CachePage` and `FragmentCache` call; append it to the key.
 *
 * @example const key = `recipe:${id}~${await versionedKeyPart(cache, [[Recipe, (args) => args[0]]], [id])}`;
 */
export async function versionedKeyPart(
  cache: Cache,
  dependsOn: readonly Dependency[],
  input: unknown,
  entryTimeout?: TimeoutSeconds,
): Promise<string> {
  const keys = generationKeysOf(dependsOn, input);
  if (keys.length === 0) return '';
  const lifetime = lifetimeOf(cache);
  const grew = cover(lifetime, entryTimeout === undefined ? cache.defaultTimeout : entryTimeout);
  if (keys.length === 1 && !grew) {
    // The common `[Entity]` case: one `get` (the backends' fastest read, one round trip as a
    // getMany), and no further async layer on a hit.
    const current = await cache.get<unknown>(keys[0]!);
    if (current !== undefined) return String(current);
  }
  const tokens = await readGenerations(cache, keys, lifetime.timeout);
  if (grew) {
    // A failed touch only leaves a generation shorter than this entry: misses later, never stale.
    await Promise.all(keys.map((key) => cache.touch(key, lifetime.timeout).catch(() => false)));
  }
  return fitKey(tokens.join('.'), MAX_JOINED_LENGTH);
}

/** Moves the generations on: deleting them makes the next reader create fresh tokens. */
export async function bumpGenerations(cache: Cache, keys: readonly string[]): Promise<void> {
  if (keys.length > 0) await cache.deleteMany(keys);
}
