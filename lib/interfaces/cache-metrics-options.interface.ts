/**
 * The part of a prom-client `Registry` the metrics use; typed here so that apps without
 * prom-client still compile against this package's types.
 */
export interface PrometheusRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
}

/**
 * `CacheModule`'s `metrics` option.
 *
 * @example CacheModule.forRoot(caches, { metrics: { prometheus: true } }) // then await register.metrics()
 */
export interface CacheMetricsOptions {
  /** Registers Prometheus metrics of every alias through prom-client (an optional peer dependency). */
  prometheus?: boolean;
  /** The prom-client registry to register them in (default: prom-client's global `register`). */
  registry?: PrometheusRegistry;
  /** Prefix of the metric names (`nestjs_caches_`). */
  prefix?: string;
}
