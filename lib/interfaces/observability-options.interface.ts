/**
 * `CacheModule`'s `tracing` option: OpenTelemetry spans through `@opentelemetry/api`, recorded
 * whenever the app has the API installed and a tracer provider registered.
 *
 * @example CacheModule.forRoot(caches, { tracing: { recordKeys: true } })
 */
export interface CacheTracingOptions {
  /** Adds the key as `cache.key` to command spans (off: keys may hold user data). */
  recordKeys?: boolean;
}

/**
 * `CacheModule`'s `panel` option: the per-request cache panel, for development.
 *
 * @example CacheModule.forRoot(caches, { panel: process.env.NODE_ENV !== 'production' })
 */
export interface CachePanelOptions {
  /** Where the panel answers (`/__cache_panel`): `<path>/<request id>` as JSON, `<path>/panel.js`. */
  path?: string;
  /** Runs the panel even under `NODE_ENV=production` (it shows keys to anyone who can reach the path). */
  force?: boolean;
}
