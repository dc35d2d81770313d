import { Keyv } from 'keyv';
import { describeCacheContract } from './cache-contract.js';

// Keyv's own in-memory store (a Map), shared by the aliases built from one name as the contract expects.
const stores = new Map<string, Keyv>();
const storeNamed = (name: string) => stores.get(name) ?? stores.set(name, new Keyv({ namespace: name })).get(name)!;

describeCacheContract('keyv (in-memory)', {
  entry: (name, overrides) => ({ backend: 'keyv', options: { store: storeNamed(name) }, ...overrides }),
});
