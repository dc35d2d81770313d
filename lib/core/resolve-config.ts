import { describeValue } from './describe-value.js';
import type {
  AnyCacheEntryOptions,
  CacheEntryOptions,
  CachesOptions,
  ResolvedCacheEntry,
} from '../interfaces/cache-options.interface.js';
import { parseCacheUrl } from './cache-url.js';
import { DEFAULT_CIRCUIT_BREAKER, type CircuitBreakerSettings } from './circuit-breaker.js';
import { checkKnownFields } from './known-fields.js';
import { CacheConfigError } from './errors.js';
import { defaultKeyFunction } from './keys.js';

export const BUILT_IN_BACKENDS = [
  'locmem',
  'filesystem',
  'dummy',
  'database',
  'memcached',
  'redis',
  'tiered',
  'keyv',
] as const;

const ENTRY_FIELDS = new Set<string>([
  'backend',
  'location',
  'timeout',
  'keyPrefix',
  'version',
  'keyFunction',
  'options',
  'ignoreErrors',
  'commandTimeoutMs',
  'tiers',
  'bus',
  'maxStaleness',
  'circuitBreaker',
]);

/** Validates the caches map and fills in Django's defaults; errors name the alias and field. */
export function resolveCaches(caches: CachesOptions): ResolvedCacheEntry[] {
  if (caches === null || typeof caches !== 'object') {
    throw new CacheConfigError(
      `caches must be an object of aliases, e.g. { default: { backend: 'locmem' } }; got ${typeof caches}.`,
    );
  }
  if (!('default' in caches)) {
    throw new CacheConfigError(
      `caches.default is required (Django requires a 'default' cache too); configured: ${Object.keys(caches).join(', ') || 'none'}.`,
    );
  }
  return Object.entries(caches).map(([alias, entry]) => resolveEntry(alias, entry));
}

function resolveEntry(alias: string, raw: CacheEntryOptions | string): ResolvedCacheEntry {
  // Read loosely: JavaScript apps and untyped factories may pass any shape, checked field by field.
  const entry: AnyCacheEntryOptions = typeof raw === 'string' ? parseCacheUrl(raw, alias) : raw;
  const field = (name: string) => `caches.${alias}.${name}`;
  if (entry === null || typeof entry !== 'object') {
    throw new CacheConfigError(
      `caches.${alias} must be an object like { backend: 'locmem' } or a cache URL; got ${describeValue(entry)}.`,
    );
  }
  checkKnownFields(
    entry,
    [...ENTRY_FIELDS],
    `caches.${alias}`,
    'a setting',
    'Backend-specific settings go in options.',
  );
  const { backend } = entry;
  if (typeof backend !== 'function' && !(BUILT_IN_BACKENDS as readonly string[]).includes(backend)) {
    throw new CacheConfigError(
      `${field('backend')}: unknown backend ${describeValue(backend)}; use one of ${BUILT_IN_BACKENDS.join(', ')} or a class implementing CacheBackend.`,
    );
  }
  const timeout = entry.timeout === undefined ? 300 : entry.timeout;
  if (timeout !== null && (typeof timeout !== 'number' || Number.isNaN(timeout))) {
    throw new CacheConfigError(
      `${field('timeout')} must be a number of seconds or null (never expire); got ${describeValue(timeout)}.`,
    );
  }
  const version = entry.version ?? 1;
  if (!Number.isInteger(version))
    throw new CacheConfigError(`${field('version')} must be an integer; got ${describeValue(version)}.`);
  const keyPrefix = entry.keyPrefix ?? '';
  if (typeof keyPrefix !== 'string')
    throw new CacheConfigError(`${field('keyPrefix')} must be a string; got ${typeof keyPrefix}.`);
  const keyFunction = entry.keyFunction ?? defaultKeyFunction;
  if (typeof keyFunction !== 'function') {
    throw new CacheConfigError(`${field('keyFunction')} must be a function (key, keyPrefix, version) => string.`);
  }
  const options = entry.options ?? {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new CacheConfigError(`${field('options')} must be an object of backend settings, e.g. { maxEntries: 300 }.`);
  }
  const ignoreErrors = entry.ignoreErrors ?? false;
  if (typeof ignoreErrors !== 'boolean') throw new CacheConfigError(`${field('ignoreErrors')} must be true or false.`);
  const commandTimeoutMs = entry.commandTimeoutMs ?? 500;
  if (typeof commandTimeoutMs !== 'number' || !(commandTimeoutMs > 0) || !Number.isFinite(commandTimeoutMs)) {
    throw new CacheConfigError(
      `${field('commandTimeoutMs')} must be a positive number of milliseconds; got ${describeValue(commandTimeoutMs)}.`,
    );
  }
  const circuitBreaker = resolveCircuitBreaker(entry.circuitBreaker, field('circuitBreaker'));
  const { location, tiers, bus } = entry;
  if (location !== undefined && (location === null || !['string', 'object'].includes(typeof location))) {
    throw new CacheConfigError(`${field('location')} must be a string, a list of strings or an object.`);
  }
  if (tiers !== undefined && !(Array.isArray(tiers) && tiers.every((tier) => typeof tier === 'string'))) {
    throw new CacheConfigError(`${field('tiers')} must be a list of aliases, e.g. ['default', 'redis'].`);
  }
  if (bus !== undefined && typeof bus !== 'string') {
    throw new CacheConfigError(`${field('bus')} must be a redis URL, e.g. 'redis://127.0.0.1:6379'.`);
  }
  const maxStaleness = resolveMaxStaleness(entry, field('maxStaleness'));
  return {
    alias,
    backend,
    location,
    timeout,
    keyPrefix,
    version,
    keyFunction,
    options,
    ignoreErrors,
    commandTimeoutMs,
    tiers,
    bus,
    maxStaleness,
    circuitBreaker,
  };
}

/** Seconds another instance's upper-tier copy may lag a write; only a tiered alias with a bus has one. */
function resolveMaxStaleness(entry: AnyCacheEntryOptions, field: string): number | undefined {
  const { maxStaleness } = entry;
  if (maxStaleness === undefined) return entry.backend === 'tiered' && entry.bus !== undefined ? 0.25 : undefined;
  if (entry.backend !== 'tiered' || entry.bus === undefined) {
    throw new CacheConfigError(
      `${field} bounds how long other instances may serve an old copy, which takes an invalidation bus: add bus: 'redis://…' to this tiered entry, or remove maxStaleness.`,
    );
  }
  if (typeof maxStaleness !== 'number' || !(maxStaleness >= 0) || !Number.isFinite(maxStaleness)) {
    throw new CacheConfigError(
      `${field} must be a number of seconds >= 0, e.g. maxStaleness: 0.25 (0: upper tiers never answer); got ${describeValue(maxStaleness)}.`,
    );
  }
  return maxStaleness;
}

function resolveCircuitBreaker(
  given: CacheEntryOptions['circuitBreaker'],
  field: string,
): CircuitBreakerSettings | false {
  if (given === false) return false;
  if (given === undefined) return DEFAULT_CIRCUIT_BREAKER;
  if (given === null || typeof given !== 'object') {
    throw new CacheConfigError(`${field} must be false or { failures, breakSeconds }; got ${describeValue(given)}.`);
  }
  checkKnownFields(given, ['failures', 'breakSeconds'], field);
  const { failures = DEFAULT_CIRCUIT_BREAKER.failures, breakSeconds = DEFAULT_CIRCUIT_BREAKER.breakSeconds } = given;
  if (!Number.isInteger(failures) || failures < 1) {
    throw new CacheConfigError(`${field}.failures must be a whole number >= 1; got ${describeValue(failures)}.`);
  }
  if (typeof breakSeconds !== 'number' || !Number.isFinite(breakSeconds) || breakSeconds <= 0) {
    throw new CacheConfigError(
      `${field}.breakSeconds must be a number of seconds > 0; got ${describeValue(breakSeconds)}.`,
    );
  }
  return { failures, breakSeconds };
}

/** Reads a whole-number option of a backend, with a default; names the alias and option when wrong. */
export function integerOption(entry: ResolvedCacheEntry, name: string, fallback: number, minimum: number): number {
  const value = entry.options[name] ?? fallback;
  if (!Number.isInteger(value) || (value as number) < minimum) {
    throw new CacheConfigError(
      `caches.${entry.alias}.options.${name} must be an integer of at least ${minimum}; got ${describeValue(value)}.`,
    );
  }
  return value as number;
}

/** Refuses options a backend does not know, so a misspelt one does not pass unnoticed. */
export function checkOptionNames(entry: ResolvedCacheEntry, known: readonly string[]): void {
  checkKnownFields(
    entry.options,
    known,
    `caches.${entry.alias}.options`,
    `an option of the ${String(entry.backend)} backend`,
  );
}
