import { MISS, type CacheBackend, type EntryTally, type Miss } from '../interfaces/cache-backend.interface.js';
import { encodeValue } from '../core/serializer.js';

/**
 * Stores nothing, for development and tests (Django's DummyCache). Values are still
 * serialized so that code that would fail on a real backend fails here too.
 */
export class DummyBackend implements CacheBackend {
  readonly inProcess = true;
  get(): Miss {
    return MISS;
  }

  has(): boolean {
    return false;
  }

  set(key: string, value: unknown): void {
    encodeValue(value, key);
  }

  add(key: string, value: unknown): boolean {
    encodeValue(value, key);
    return true;
  }

  setMany(entries: ReadonlyArray<readonly [string, unknown]>): string[] {
    for (const [key, value] of entries) encodeValue(value, key);
    return [];
  }

  incr(): Miss {
    return MISS;
  }

  touch(): boolean {
    return false;
  }

  delete(): boolean {
    return false;
  }

  clear(): void {}

  count(): EntryTally {
    return { entries: 0, description: '0 (keeps nothing)' };
  }
}
