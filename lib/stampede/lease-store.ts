import { hashKey, keyProblem, type KeyFunction } from '../core/keys.js';
import type { CacheBackend } from '../interfaces/cache-backend.interface.js';
import type { LeaseStore } from './lease.js';

/** Where an alias's keys are made, for the lock keys of its leases. */
export interface LockKeySettings {
  keyFunction: KeyFunction;
  keyPrefix: string;
  version: number;
}

/**
 * Leases live under a lock key users cannot make: the key function gets `lock.<version>` where
 * the version goes, and user keys always have a number there. A custom key function that drops
 * the version gets `lock.<version>:` before the key instead (there, in the users' key space).
 * Keys too long for memcached with that addition are hashed.
 */
export function lockKeyMaker({ keyFunction, keyPrefix, version }: LockKeySettings) {
  const keepsVersion = keyFunction('k', keyPrefix, 1) !== keyFunction('k', keyPrefix, 2);
  return (key: string, keyVersion: number | undefined): string => {
    const lockVersion = `lock.${keyVersion ?? version}`;
    const make = (k: string) =>
      keepsVersion
        ? keyFunction(k, keyPrefix, lockVersion as unknown as number)
        : keyFunction(`${lockVersion}:${k}`, keyPrefix, keyVersion ?? version);
    const made = make(key);
    return keyProblem(made) === undefined ? made : make(hashKey(key));
  };
}

/**
 * Leases on a backend's own `add` and (atomic where it has one) `deleteIfEquals`.
 * `takeFailed` decides what a failed take means: it throws, or (fail open) answers that the
 * lease was taken, so the caller computes as on a miss. `releaseFailed` only records: the lease's
 * TTL frees the lock key anyway.
 */
export function backendLeaseStore(
  backend: CacheBackend,
  lockKey: (key: string, version: number | undefined) => string,
  takeFailed: (error: unknown, key: string) => void,
  releaseFailed: (error: unknown, key: string) => void,
): LeaseStore {
  return {
    tryTake: async (key, version, token, ttlMs) => {
      try {
        return await backend.add(lockKey(key, version), token, ttlMs);
      } catch (error) {
        takeFailed(error, key);
        return true; // a store that is down cannot lock; compute, as on a miss
      }
    },
    release: async (key, version, token) => {
      const made = lockKey(key, version);
      try {
        if (backend.deleteIfEquals) await backend.deleteIfEquals(made, token);
        // Without an atomic primitive: read, compare, delete. The lease could expire and be
        // taken by another owner between the read and the delete; its TTL bounds the damage.
        else if ((await backend.get(made)) === token) await backend.delete(made);
      } catch (error) {
        releaseFailed(error, key);
      }
    },
  };
}
