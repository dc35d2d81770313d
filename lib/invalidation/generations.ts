import { createHash, randomBytes } from 'node:crypto';
import type { Cache } from '../core/cache.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import { generationKeysOf, type Dependency } from './dependencies.js';

// A generation lives at least a day, and at least twice as long as the entry that read it, so
// that entries normally age out before their generation. One that goes earlier (evicted by an
// LRU, or outlived by a longer entry) only turns its entries into misses: see newToken.
const MIN_GENERATION_TIMEOUT_SECONDS = 24 * 60 * 60;
// Joined tokens longer than this (more than six) are hashed, so that a key part stays short
// whatever the count of dependencies.
const MAX_JOINED_LENGTH = 80;

/**
 * A generation is a random token, never a counter: a generation key that disappears (evicted,
 * expired, or deleted by a bump) is created again with a fresh token, so it can never come back
 * to a value an old entry was stored under. 72 random bits: collisions are out of reach.
 */
function newToken(): string {
  return randomBytes(9).toString('base64url');
}

/** How long a generation created for an entry with this timeout lives (`null`: as long as the store keeps it). */
export function generationTimeoutFor(cache: Cache, entryTimeout: TimeoutSeconds | undefined): TimeoutSeconds {
  const timeout = entryTimeout === undefined ? cache.defaultTimeout : entryTimeout;
  if (timeout === null) return null;
  return Math.max(MIN_GENERATION_TIMEOUT_SECONDS, timeout * 2);
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
  if (keys.length === 1) {
    // The common `[Entity]` case: one `get` (the backends' fastest read, one round trip as a
    // getMany), and no further async layer on a hit.
    const current = await cache.get<unknown>(keys[0]!);
    if (current !== undefined) return String(current);
  }
  const tokens = await readGenerations(cache, keys, generationTimeoutFor(cache, entryTimeout));
  const joined = tokens.join('.');
  return joined.length <= MAX_JOINED_LENGTH ? joined : createHash('sha256').update(joined).digest('base64url');
}

/** Moves the generations on: deleting them makes the next reader create fresh tokens. */
export async function bumpGenerations(cache: Cache, keys: readonly string[]): Promise<void> {
  if (keys.length > 0) await cache.deleteMany(keys);
}
