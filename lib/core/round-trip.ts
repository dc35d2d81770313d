import { randomUUID } from 'node:crypto';
import type { CacheBackend } from '../interfaces/cache-backend.interface.js';

// Written and removed by health checks, under the alias's prefix and version like any key.
const HEALTH_KEY = '__nestjs_caches_health__';
const HEALTH_TTL_MS = 10_000;

/**
 * Writes, reads back and deletes a reserved key on a backend, throwing what it throws.
 * `readBack` is false for a store that keeps nothing (dummy) or dropped the key at once.
 */
export async function roundTrip(
  backend: CacheBackend,
  makeKey: (key: string) => string,
): Promise<{ readBack: boolean }> {
  const made = makeKey(HEALTH_KEY);
  const token = randomUUID();
  await backend.set(made, token, HEALTH_TTL_MS);
  const readBack = (await backend.get(made)) === token;
  await backend.delete(made);
  return { readBack };
}
