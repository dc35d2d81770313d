import { describeValue } from '../core/describe-value.js';
import { CacheConfigError } from '../core/errors.js';
import { checkKnownFields } from '../core/known-fields.js';
import type { CacheMetricsOptions } from '../interfaces/cache-metrics-options.interface.js';

const FIELDS = ['prometheus', 'registry', 'prefix'];

/** Checks `CacheModule`'s `metrics` option, naming the field and the fix. */
export function resolveMetricsOptions(options: CacheMetricsOptions | undefined): CacheMetricsOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new CacheConfigError(
      `metrics must be an object such as { prometheus: true }; got ${describeValue(options)}.`,
    );
  }
  checkKnownFields(options, FIELDS, 'metrics');
  const { prometheus, registry, prefix } = options;
  if (prometheus !== undefined && typeof prometheus !== 'boolean') {
    throw new CacheConfigError(`metrics.prometheus must be true or false; got ${describeValue(prometheus)}.`);
  }
  if (registry !== undefined && typeof (registry as { registerMetric?: unknown })?.registerMetric !== 'function') {
    throw new CacheConfigError(`metrics.registry must be a prom-client Registry (new Registry()).`);
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))) {
    throw new CacheConfigError(
      `metrics.prefix must be the start of a Prometheus metric name such as 'myapp_cache_'; got ${describeValue(prefix)}.`,
    );
  }
  return options;
}
