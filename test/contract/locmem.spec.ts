import { describeCacheContract } from './cache-contract.js';

describeCacheContract('locmem', {
  // Aliases built from the same name share one store, as Django's test caches share a location.
  entry: (name, overrides) => ({ backend: 'locmem', location: `contract-${name}`, ...overrides }),
  culls: true,
});
