import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import { describeValue } from '../../core/describe-value.js';
import { CacheConfigError } from '../../core/errors.js';
import { clearPatternOf } from '../../core/keys.js';
import { checkOptionNames } from '../../core/resolve-config.js';
import type { BackendContext, ResolvedCacheEntry } from '../../interfaces/cache-options.interface.js';
import { RedisBackend } from './redis.backend.js';

const OPTIONS = ['clearAll', 'redisOptions'];
const LOCATION_EXAMPLE = `'redis://127.0.0.1:6379/1', { cluster: ['10.0.0.1:6379', '10.0.0.2:6379'] } or { sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'mymaster' }`;

/**
 * Builds the redis backend of an alias: a URL (`redis://h:p/db`, `rediss://`), a cluster node list
 * or sentinels, checked at boot.
 *
 * @example { backend: 'redis', location: 'redis://127.0.0.1:6379/1', options: { clearAll: false } }
 */
export function createRedisBackend(entry: ResolvedCacheEntry, _context?: BackendContext): RedisBackend {
  checkOptionNames(entry, OPTIONS);
  const { clearAll = false, redisOptions = {} } = entry.options as { clearAll?: unknown; redisOptions?: unknown };
  if (typeof clearAll !== 'boolean') {
    throw new CacheConfigError(
      `caches.${entry.alias}.options.clearAll must be true or false; got ${describeValue(clearAll)}.`,
    );
  }
  if (typeof redisOptions !== 'object' || redisOptions === null) {
    throw new CacheConfigError(
      `caches.${entry.alias}.options.redisOptions must be an object of ioredis options, e.g. { password: 'secret' }.`,
    );
  }
  return new RedisBackend(connect(entry, redisOptions as RedisOptions), {
    alias: entry.alias,
    clearAll,
    commandTimeoutMs: entry.commandTimeoutMs,
    clearPattern: clearPatternOf(entry.keyFunction, entry.keyPrefix),
  });
}

/** Connection settings that make a dead server fail fast instead of queueing (DESIGN §7). */
function connect(entry: ResolvedCacheEntry, extra: RedisOptions): Redis | Cluster {
  // Per connection (a cluster applies them to each node's connection).
  const nodeOptions: RedisOptions = {
    commandTimeout: entry.commandTimeoutMs,
    connectTimeout: Math.max(entry.commandTimeoutMs * 4, 2000),
    maxRetriesPerRequest: 1,
    ...extra,
  };
  const common: RedisOptions = {
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...nodeOptions,
  };
  const location = entry.location;
  const wrong = (why: string) =>
    new CacheConfigError(`caches.${entry.alias}.location: ${why}; e.g. ${LOCATION_EXAMPLE}.`);
  if (typeof location === 'string') {
    if (!/^rediss?:\/\//.test(location)) throw wrong(`'${location}' is not a redis:// or rediss:// URL`);
    return new Redis(location, common);
  }
  if (location === undefined || location === null || typeof location !== 'object' || Array.isArray(location)) {
    throw wrong('the redis backend needs a URL, a cluster node list or sentinels');
  }
  if ('cluster' in location) {
    const nodes = location.cluster;
    if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((n) => typeof n === 'string' || isHostPort(n))) {
      throw wrong(`cluster must be a non-empty list of 'host:port' strings`);
    }
    return new Cluster(nodes as ClusterNode[], {
      enableOfflineQueue: false,
      clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
      slotsRefreshTimeout: Math.max(entry.commandTimeoutMs * 2, 1000),
      redisOptions: nodeOptions,
    });
  }
  if ('sentinels' in location) {
    const { sentinels, name } = location as { sentinels?: unknown; name?: unknown };
    if (!Array.isArray(sentinels) || sentinels.length === 0 || !sentinels.every(isHostPort)) {
      throw wrong('sentinels must be a non-empty list of { host, port }');
    }
    if (typeof name !== 'string' || name === '') throw wrong('sentinels need the name of the master group');
    return new Redis({ ...common, sentinels: sentinels as Array<{ host: string; port: number }>, name });
  }
  throw wrong('the object form needs a cluster or sentinels field');
}

function isHostPort(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { host?: unknown }).host === 'string' &&
    typeof (value as { port?: unknown }).port === 'number'
  );
}
