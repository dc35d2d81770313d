import { Keyv } from 'keyv';
import { describeCacheBackendContract } from '../../lib/testing/index.js';

// Keyv's own in-memory store (a Map), one per store name: aliases built for the same store share it.
const stores = new Map<string, Keyv>();
const storeNamed = (name: string) => stores.get(name) ?? stores.set(name, new Keyv({ namespace: name })).get(name)!;

describeCacheBackendContract('keyv (in-memory)', (store) => ({
  backend: 'keyv',
  options: { store: storeNamed(store) },
}));
