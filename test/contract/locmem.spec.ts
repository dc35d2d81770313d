import { describeCacheBackendContract } from '../../lib/testing/index.js';

// Aliases built for the same store share it, as Django's test caches share a location.
describeCacheBackendContract('locmem', (store) => ({ backend: 'locmem', location: `contract-${store}` }), {
  culls: true,
});
