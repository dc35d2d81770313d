import type { HttpAdapterHost } from '@nestjs/core';
import { describeValue } from '../core/describe-value.js';
import { CacheConfigError } from '../core/errors.js';
import { loadOptionalPeer, requirePeers } from '../core/optional-peers.js';
import { CacheObservability } from './cache-observability.js';
import { CachePanel } from './cache-panel.js';
import { CacheTracer, type OpenTelemetryApi } from './cache-tracer.js';
import type { CachePanelOptions, CacheTracingOptions } from '../interfaces/observability-options.interface.js';

const DEFAULT_PANEL_PATH = '/__cache_panel';

/**
 * Spans and the panel as `CacheModule`'s `tracing` and `panel` options ask: `null` when there is
 * neither, so that cache calls check one field. `@opentelemetry/api` is imported only if the app
 * has it; `tracing` set explicitly requires it.
 */
export async function createObservability(
  { tracing, panel }: { tracing?: CacheTracingOptions | false; panel?: boolean | CachePanelOptions },
  adapterHost: HttpAdapterHost | undefined,
): Promise<CacheObservability | null> {
  const tracer = tracing === false ? undefined : await tracerOf(tracing);
  const cachePanel = panelOf(panel);
  if (tracer === undefined && cachePanel === undefined) return null;
  return new CacheObservability(tracer, cachePanel, adapterHost);
}

async function tracerOf(tracing: CacheTracingOptions | undefined): Promise<CacheTracer | undefined> {
  if (tracing !== undefined && (tracing === null || typeof tracing !== 'object')) {
    throw new CacheConfigError(
      `tracing must be false or an object such as { recordKeys: true }; got ${describeValue(tracing)}.`,
    );
  }
  const { recordKeys = false, ...unknown } = tracing ?? {};
  if (Object.keys(unknown).length > 0) {
    throw new CacheConfigError(`tracing: unknown field ${Object.keys(unknown).join(', ')}; known: recordKeys.`);
  }
  if (typeof recordKeys !== 'boolean') {
    throw new CacheConfigError(`tracing.recordKeys must be true or false; got ${describeValue(recordKeys)}.`);
  }
  if (tracing !== undefined) await requirePeers('CacheModule sets tracing', ['@opentelemetry/api']);
  const api = await loadOptionalPeer<OpenTelemetryApi>('@opentelemetry/api');
  return api === undefined ? undefined : new CacheTracer(api, recordKeys);
}

function panelOf(panel: boolean | CachePanelOptions | undefined): CachePanel | undefined {
  if (panel === undefined || panel === false) return undefined;
  if (panel !== true && (panel === null || typeof panel !== 'object')) {
    throw new CacheConfigError(
      `panel must be true, false or an object such as { path: '/__cache_panel' }; got ${describeValue(panel)}.`,
    );
  }
  const { path = DEFAULT_PANEL_PATH, force = false, ...unknown } = panel === true ? {} : panel;
  if (Object.keys(unknown).length > 0) {
    throw new CacheConfigError(`panel: unknown field ${Object.keys(unknown).join(', ')}; known: path, force.`);
  }
  if (typeof path !== 'string' || !/^\/[\w.~/-]*[\w.~-]$/.test(path)) {
    throw new CacheConfigError(`panel.path must be a URL path such as '/__cache_panel'; got ${describeValue(path)}.`);
  }
  if (process.env.NODE_ENV === 'production' && force !== true) {
    throw new CacheConfigError(
      'The cache panel is refused under NODE_ENV=production: it shows the cache keys of every request to anyone who can reach ' +
        `${path}. Turn it on only in development (panel: process.env.NODE_ENV !== 'production'), or set panel: { force: true } for a server only developers reach.`,
    );
  }
  return new CachePanel({ path });
}
