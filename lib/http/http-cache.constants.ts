// Only until page-cache.ts imports the token from cache.constants.ts, where every token now lives.
export { CACHE_HTTP_OPTIONS } from '../cache.constants.js';
