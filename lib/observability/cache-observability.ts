import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import type { Attributes, Span } from '@opentelemetry/api';
import type { Cache } from '../core/cache.js';
import type { CommandKey, CommandObserver, CommandWatch, ObservedCommand } from '../core/command-observer.js';
import type { CachePanel, PanelRequest } from './cache-panel.js';
import type { CacheTracer } from './cache-tracer.js';

/** What the calls running now were made for: the request whose calls the panel collects, and by whom. */
interface CallScope {
  request: (PanelRequest & { started: number }) | undefined;
  /** What makes the calls: `@Cacheable UsersService.find`, `@CachePage`; `low-level` when unset. */
  origin: string | undefined;
  /** Whether the decorated method ran in this scope (a method span's `cache.hit` is its opposite). */
  ran: boolean;
}

/** A page lookup being watched: its span until the outcome is known, and what made it. */
export interface PageWatch {
  span: Span | undefined;
  origin: string;
}

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/** A command being watched: its span, if spans are recorded, and when it started. */
interface Watch extends CommandWatch {
  span: Span | undefined;
}

const joined = (key: CommandKey): string => (typeof key === 'string' ? key : key.join(', '));

/**
 * Spans and the cache panel of one app. `undefined` parts cost nothing: with neither, no
 * scope is ever entered. Every alias's `CacheInstrumentation` reports its commands here.
 */
export class CacheObservability implements CommandObserver, OnModuleInit, OnApplicationShutdown {
  private readonly scopes = new AsyncLocalStorage<CallScope>();
  private restore: (() => void) | undefined;

  constructor(
    readonly tracer: CacheTracer | undefined,
    readonly panel: CachePanel | undefined,
    private readonly adapterHost?: HttpAdapterHost,
  ) {}

  /** Whether spans would be recorded or a request's calls are being collected now. */
  get observing(): boolean {
    return this.tracer?.active === true || this.currentRequest() !== undefined;
  }

  get tracing(): boolean {
    return this.tracer?.active === true;
  }

  watch(command: ObservedCommand): Watch {
    const span = this.tracer?.active
      ? this.tracer.start(`cache.${command.operation}`, this.attributesOf(command))
      : undefined;
    return { span, started: performance.now() };
  }

  within<T>(watch: Watch, run: () => T): T {
    return watch.span === undefined ? run() : this.tracer!.within(watch.span, run);
  }

  settled(
    watch: Watch,
    command: ObservedCommand,
    { hit, durationMs, error }: { hit: boolean | undefined; durationMs: number; error: unknown },
  ): void {
    if (watch.span !== undefined) {
      if (hit !== undefined) watch.span.setAttribute('cache.hit', hit);
      this.tracer!.end(watch.span, error);
    }
    const request = this.currentRequest();
    if (request === undefined) return;
    this.panel!.record(
      request,
      {
        alias: command.alias,
        operation: command.operation,
        key: joined(command.key),
        hit,
        durationMs,
        origin: this.currentOrigin(),
        ...(error === undefined ? {} : { error: (error as Error)?.message ?? String(error) }),
      },
      watch.started,
    );
  }

  spanned<T>(command: ObservedCommand, work: () => Promise<T>, hit: () => boolean): Promise<T> {
    return this.tracer!.span(`cache.${command.operation}`, this.attributesOf(command), async (span) => {
      const result = await work();
      span.setAttribute('cache.hit', hit());
      return result;
    });
  }

  private attributesOf(command: ObservedCommand): Attributes {
    return {
      'cache.alias': command.alias,
      'cache.operation': command.operation,
      'cache.backend': command.backend,
      ...(this.tracer!.recordKeys ? { 'cache.key': joined(command.key) } : {}),
    };
  }

  /** The request whose calls the panel is collecting, if any. */
  currentRequest(): (PanelRequest & { started: number }) | undefined {
    return this.panel === undefined ? undefined : this.scopes.getStore()?.request;
  }

  /** Who makes the calls running now (`low-level` outside any decorator). */
  currentOrigin(): string {
    return this.scopes.getStore()?.origin ?? 'low-level';
  }

  /**
   * Runs `work` as made by `origin`, inside a span named `name` when spans are recorded. `hit`
   * says, from the result, whether the cache answered (the method or page did not run).
   */
  async observe<T>(
    name: string,
    origin: string,
    attributes: Attributes,
    work: () => Promise<T>,
    hit?: (ran: boolean, result: T) => boolean | undefined,
  ): Promise<T> {
    const scope: CallScope = { request: this.scopes.getStore()?.request, origin, ran: false };
    const tracer = this.tracer?.active ? this.tracer : undefined;
    if (tracer === undefined) return this.scopes.run(scope, work);
    return tracer.span(name, attributes, async (span) => {
      const result = await this.scopes.run(scope, work);
      const found = hit?.(scope.ran, result);
      if (found !== undefined) span.setAttribute('cache.hit', found);
      return result;
    });
  }

  /**
   * Starts watching a page lookup (`cache.page`), when spans are recorded or the panel collects:
   * `undefined` otherwise, and then the page cache does nothing more for observability.
   */
  watchPage(origin: string, cache: Cache, early = false): PageWatch | undefined {
    if (!this.observing) return undefined;
    const span = this.tracer?.active
      ? this.tracer.start('cache.page', {
          'cache.alias': cache.alias,
          'cache.operation': 'page',
          'cache.backend': cache.backendName,
          ...(early ? { 'cache.page.early': true } : {}),
        })
      : undefined;
    return { span, origin };
  }

  /** Runs the page cache's own commands (lookups, stores) as made by the page watched, under its span. */
  inPage<T>(watch: PageWatch | undefined, work: () => T): T {
    if (watch === undefined) return work();
    const scope: CallScope = { request: this.scopes.getStore()?.request, origin: watch.origin, ran: false };
    return this.scopes.run(scope, () => this.underPage(watch, work));
  }

  /** Runs the handler of a page being computed under the page's span, its calls keeping their own origin. */
  underPage<T>(watch: PageWatch | undefined, work: () => T): T {
    return watch?.span === undefined ? work() : this.tracer!.within(watch.span, work);
  }

  /** Ends a page's span with what the page cache did (`X-Cache`). */
  endPage(watch: PageWatch | undefined, outcome: 'HIT' | 'STALE' | 'MISS' | 'BYPASS'): void {
    if (watch?.span === undefined) return;
    watch.span.setAttributes({ 'cache.outcome': outcome, 'cache.hit': outcome === 'HIT' || outcome === 'STALE' });
    this.tracer!.end(watch.span);
    watch.span = undefined;
  }

  /** Notes that the decorated method of the current scope ran: its call was a miss. */
  markRan(): void {
    const scope = this.scopes.getStore();
    if (scope !== undefined) scope.ran = true;
  }

  /** Collects the cache calls of every request the HTTP server receives, and answers the panel's own. */
  onModuleInit(): void {
    const server = this.adapterHost?.httpAdapter?.getHttpServer() as { emit: Emit } | undefined;
    const panel = this.panel;
    if (panel === undefined || server === undefined || typeof server.emit !== 'function') return;
    const scopes = this.scopes;
    const emit = server.emit;
    // Around the `request` event, so that the scope holds for everything that serves the request:
    // middleware, the page cache answering before routing, Nest's pipeline, on either platform.
    const wrapped: Emit = function (this: unknown, event, ...args) {
      if (event !== 'request') return emit.call(this, event, ...args);
      const [request, response] = args as [IncomingMessage, ServerResponse];
      if (panel.answers(request, response)) return true;
      const scope: CallScope = { request: panel.open(request, response), origin: undefined, ran: false };
      return scopes.run(scope, () => emit.call(this, event, ...args));
    };
    server.emit = wrapped;
    this.restore = () => {
      if (server.emit === wrapped) server.emit = emit;
    };
  }

  onApplicationShutdown(): void {
    this.restore?.();
  }
}
