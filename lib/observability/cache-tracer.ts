import type * as OpenTelemetry from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';

export type OpenTelemetryApi = typeof OpenTelemetry;

// The registry every copy of @opentelemetry/api 1.x in the process shares: its `trace` entry exists
// once a tracer provider is registered. One property read, where asking the API costs a version
// check and a proxy's delegate lookup on every cache call.
const OTEL_GLOBALS = Symbol.for('opentelemetry.js.api.1');
const TRACER_NAME = 'nestjs-caches';

/**
 * Starts this library's spans through `@opentelemetry/api`, when the app has it (an optional peer):
 * `cache.<operation>` spans with `cache.alias`, `cache.operation`, `cache.backend` and, on reads,
 * `cache.hit`. While no tracer provider is registered it starts nothing.
 */
export class CacheTracer {
  constructor(
    private readonly api: OpenTelemetryApi,
    /** Record keys as `cache.key` (off by default: keys may hold user data). */
    readonly recordKeys: boolean,
  ) {}

  /** Whether a tracer provider is registered: spans would go somewhere. */
  get active(): boolean {
    return (globalThis as { [OTEL_GLOBALS]?: { trace?: unknown } })[OTEL_GLOBALS]?.trace !== undefined;
  }

  /** A span, child of the active one (an HTTP server span, a method's span), not yet made active. */
  start(name: string, attributes: Attributes): Span {
    return this.api.trace
      .getTracer(TRACER_NAME)
      .startSpan(name, { kind: this.api.SpanKind.INTERNAL, attributes }, this.api.context.active());
  }

  /** Runs `work` with `span` active, so spans started inside (ours, an ioredis or memjs instrumentation's) nest under it. */
  within<T>(span: Span, work: () => T): T {
    return this.api.context.with(this.api.trace.setSpan(this.api.context.active(), span), work);
  }

  /** Ends a span, marked as failed when `error` is given. */
  end(span: Span, error?: unknown): void {
    if (error !== undefined) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
    }
    span.end();
  }

  /** `work` inside a span that ends when it settles. */
  async span<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
    const span = this.start(name, attributes);
    try {
      const result = await this.within(span, () => work(span));
      this.end(span);
      return result;
    } catch (error) {
      this.end(span, error);
      throw error;
    }
  }
}
