import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Caches } from '../caches.js';
import type { CacheStats } from '../core/cache-stats.js';
import { requirePeers } from '../core/optional-peers.js';
import type { CacheMetricsOptions, PrometheusRegistry } from '../interfaces/cache-metrics-options.interface.js';
import { CACHE_METRICS_OPTIONS } from '../cache.constants.js';

/** One sample as prom-client's registry formats it. */
interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

const COUNTERS: Array<[suffix: string, help: string, read: (stats: CacheStats) => number]> = [
  ['hits_total', 'Reads that found the key.', (s) => s.hits],
  ['misses_total', 'Reads that did not find the key (backend failures included).', (s) => s.misses],
  ['sets_total', 'Values stored.', (s) => s.sets],
  ['deletes_total', 'Keys removed.', (s) => s.deletes],
  ['errors_total', 'Backend failures.', (s) => s.errors],
  [
    'stale_serves_total',
    'Values answered past their freshness (stale-while-revalidate, grace, STALE pages).',
    (s) => s.staleServes,
  ],
  ['lock_waits_total', 'getOrSet calls that waited for another process to compute the value.', (s) => s.lockWaits],
  ['lock_wait_seconds_total', 'Time getOrSet calls spent waiting for another process.', (s) => s.lockWaitMs / 1000],
];

/**
 * Prometheus metrics of every alias, read from `cache.stats()` when prom-client scrapes: the cache
 * calls pay nothing for them. On when `CacheModule` gets `metrics: { prometheus: true }`.
 *
 * @example CacheModule.forRoot(caches, { metrics: { prometheus: true } }); ... res.send(await register.metrics())
 */
@Injectable()
export class CacheMetrics implements OnModuleInit, OnModuleDestroy {
  private registry: PrometheusRegistry | undefined;
  private readonly names: string[] = [];

  constructor(
    private readonly caches: Caches,
    @Inject(CACHE_METRICS_OPTIONS) private readonly options: CacheMetricsOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.options.prometheus) return;
    await requirePeers("CacheModule's metrics.prometheus is on", ['prom-client']);
    const promClient = (await import('prom-client')) as unknown as { register: PrometheusRegistry };
    this.registry = this.options.registry ?? promClient.register;
    const prefix = this.options.prefix ?? 'nestjs_caches_';
    for (const [suffix, help, read] of COUNTERS) {
      this.register(`${prefix}${suffix}`, help, 'counter', () =>
        this.caches.all().map((cache) => ({ labels: { alias: cache.alias }, value: read(cache.stats()) })),
      );
    }
    const duration = `${prefix}command_duration_seconds`;
    this.register(
      duration,
      'Time the backend took to answer a command (networked backends; locmem and dummy are not timed).',
      'histogram',
      () => this.caches.all().flatMap((cache) => histogramSamples(duration, cache.alias, cache.stats())),
    );
  }

  onModuleDestroy(): void {
    for (const name of this.names) this.registry?.removeSingleMetric(name);
    this.names.length = 0;
  }

  /** A metric in the shape prom-client's registry reads (`get()` at each scrape), not a prom-client class. */
  private register(name: string, help: string, type: 'counter' | 'histogram', samples: () => Sample[]): void {
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      get: () => ({ name, help, type, aggregator: 'sum', values: samples() }),
      reset: () => undefined, // counters of the caches themselves: a registry reset cannot rewind them
    };
    this.registry!.registerMetric(metric as never);
    this.names.push(name);
  }
}

function histogramSamples(name: string, alias: string, stats: CacheStats): Sample[] {
  const { latency } = stats;
  return [
    ...latency.buckets.map((bucket) => ({
      metricName: `${name}_bucket`,
      labels: { le: bucket.leMs === Infinity ? '+Inf' : bucket.leMs / 1000, alias },
      value: bucket.count,
    })),
    { metricName: `${name}_sum`, labels: { alias }, value: latency.totalMs / 1000 },
    { metricName: `${name}_count`, labels: { alias }, value: latency.count },
  ];
}
