import type { CacheBackend } from '../interfaces/cache-backend.interface.js';
import { CallDeadlines } from './call-deadlines.js';
import { methodNames } from './complete-backend.js';
import { CacheError, CacheBackendError } from './errors.js';

/** When a backend's circuit opens, and for how long. */
export interface CircuitBreakerSettings {
  /** Consecutive failures that open the circuit. */
  failures: number;
  /** Seconds calls fail fast once it is open; then calls go through again, as trials. */
  breakSeconds: number;
}

export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerSettings = { failures: 5, breakSeconds: 2 };

// The calls that reach the store; `init` and `close` are lifecycle, not traffic.
const GUARDED = new Set([
  'get',
  'set',
  'add',
  'delete',
  'touch',
  'clear',
  'has',
  'incr',
  'getMany',
  'setMany',
  'deleteMany',
  'getWithTtl',
  'getManyWithTtl',
  'clearMatching',
  'deleteIfEquals',
]);

/**
 * Puts a circuit breaker (and, for stores without one of their own, a command timeout) in front
 * of a backend. While a server is down, every call would wait
 * for the command timeout; after `failures` failures in a row the circuit opens and calls fail
 * at once for `breakSeconds`, so fail-open callers (pages, decorators, `ignoreErrors`) answer at
 * the speed of their source. After the break, calls go through again: one success closes the
 * circuit, a failure opens it for another break. Errors about the caller's input (a key or a
 * value the store refuses) show the server is up, and do not count.
 */
export function withCircuitBreaker(
  backend: CacheBackend,
  alias: string,
  breaker: CircuitBreakerSettings | false,
  timeoutMs?: number,
): CacheBackend {
  // Without a breaker, failures never open it.
  const settings = breaker === false ? { failures: Infinity, breakSeconds: 0 } : breaker;
  let failuresInARow = 0;
  let openUntil = 0;
  const breakMs = settings.breakSeconds * 1000;
  const deadlines = timeoutMs === undefined ? undefined : new CallDeadlines(timeoutMs, alias);
  const succeeded = <T>(value: T): T => {
    failuresInARow = 0;
    return value;
  };
  const failed = (error: unknown): never => {
    if (!(error instanceof CacheError) || error instanceof CacheBackendError) {
      if (++failuresInARow >= settings.failures) openUntil = Date.now() + breakMs;
    } else {
      failuresInARow = 0;
    }
    throw error;
  };
  const guard =
    (method: (...args: unknown[]) => unknown) =>
    (...args: unknown[]): unknown => {
      if (failuresInARow >= settings.failures && Date.now() < openUntil) {
        return Promise.reject(
          new CacheBackendError(
            `Cache '${alias}' is unavailable: ${failuresInARow} calls in a row failed, so calls fail at once until ${new Date(openUntil).toISOString()} (circuit breaker); then they are tried again. Check that the backend is reachable.`,
          ),
        );
      }
      let result: unknown;
      try {
        result = method.apply(backend, args);
      } catch (error) {
        return failed(error);
      }
      if (!(result instanceof Promise)) return succeeded(result);
      return (deadlines === undefined ? result : deadlines.race(result)).then(succeeded, failed);
    };
  // A plain object, not a Proxy: its methods are found as fast as the backend's own. Every method
  // is bound to the backend, so that state a backend keeps on `this` stays on the backend.
  const wrapper = Object.create(backend) as Record<string, unknown>;
  for (const name of methodNames(backend)) {
    const method = (backend as unknown as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
    wrapper[name] = GUARDED.has(name) ? guard(method) : method.bind(backend);
  }
  return wrapper as unknown as CacheBackend;
}
