import { createRequire } from 'node:module';
import type { VersioningOptions } from '@nestjs/common';
import type { ModuleRef, ModulesContainer } from '@nestjs/core';
import { CacheConfigError } from '../core/errors.js';

const REPLYING_METHODS = ['reply', 'render'] as const;
const PATCHED = Symbol('nestjs-caches:answers-from-cache');
// `@RouteConstraints()` of @nestjs/platform-fastify (FASTIFY_ROUTE_CONSTRAINTS_METADATA), an optional install.
export const FASTIFY_ROUTE_CONSTRAINTS_METADATA = '__fastify_route_constraints__';

/** The parts of Nest's HTTP adapter used here. */
export type NestHttpAdapter = Record<
  (typeof REPLYING_METHODS)[number],
  (response: unknown, ...rest: unknown[]) => unknown
> & {
  getType(): string;
  getInstance(): unknown;
  getHttpServer(): unknown;
  [PATCHED]?: WeakSet<object>;
};

/** The parts of Nest's `ApplicationConfig` read here: versioning and the global enhancers. */
interface ApplicationConfig {
  getVersioning(): VersioningOptions | undefined;
  getGlobalGuards(): unknown[];
  getGlobalInterceptors(): unknown[];
  getGlobalPipes(): unknown[];
  getGlobalFilters(): unknown[];
  getGlobalRequestGuards?(): unknown[];
  getGlobalRequestInterceptors?(): Array<{ instance: unknown }>;
  getGlobalRequestPipes?(): unknown[];
  getGlobalRequestFilters?(): unknown[];
}

const CONFIG_METHODS = [
  'getVersioning',
  'getGlobalGuards',
  'getGlobalInterceptors',
  'getGlobalPipes',
  'getGlobalFilters',
] as const;

// The hooks Nest's adapters run on every request when they are set (`setOnRequestHook()`,
// `enableCors()`, `useSecurityHeaders()`...): with any of them set, Nest's own parts of the
// platform do something on a hit.
const ADAPTER_HOOKS = ['onRequestHook', 'onResponseHook', 'corsHook', 'securityHook'] as const;

/** A controller of the app, with its methods by name. */
export interface ControllerEntry {
  metatype: object;
  name: string;
  methods: Map<string, unknown>;
}

/** The app's global enhancers (`app.useGlobal…()` and `APP_GUARD`, `APP_INTERCEPTOR`...). */
export interface GlobalEnhancers {
  guards: unknown[];
  interceptors: unknown[];
  pipes: unknown[];
  filters: unknown[];
}

/**
 * Every read of Nest's private state the page cache makes, and its one patch of Nest (the
 * adapter's `reply`): in one place, each checked when the app starts, so that a Nest release
 * that moves them stops the app with an error saying so rather than caching wrongly.
 */
export class NestInternals {
  private readonly config: ApplicationConfig;

  constructor(
    moduleRef: ModuleRef,
    private readonly modulesContainer: ModulesContainer,
    private readonly http: NestHttpAdapter,
  ) {
    const config = (moduleRef as unknown as { container?: { applicationConfig?: ApplicationConfig } }).container
      ?.applicationConfig;
    for (const method of CONFIG_METHODS) {
      if (typeof config?.[method] !== 'function') throw unsupportedNest(`ApplicationConfig.${method}()`);
    }
    for (const method of REPLYING_METHODS) {
      if (typeof http[method] !== 'function') throw unsupportedNest(`the HTTP adapter's ${method}()`);
    }
    this.config = config!;
  }

  versioning(): VersioningOptions | undefined {
    return this.config.getVersioning();
  }

  globalEnhancers(): GlobalEnhancers {
    const config = this.config;
    return {
      guards: [...config.getGlobalGuards(), ...(config.getGlobalRequestGuards?.() ?? [])],
      interceptors: [
        ...config.getGlobalInterceptors(),
        ...(config.getGlobalRequestInterceptors?.() ?? []).map((wrapper) => wrapper.instance),
      ],
      pipes: [...config.getGlobalPipes(), ...(config.getGlobalRequestPipes?.() ?? [])],
      filters: [...config.getGlobalFilters(), ...(config.getGlobalRequestFilters?.() ?? [])],
    };
  }

  /** Every controller of the app, with its methods by name (inherited ones included). */
  *controllers(): Generator<ControllerEntry> {
    for (const module of this.modulesContainer.values()) {
      for (const wrapper of module.controllers.values()) {
        const metatype = wrapper.metatype as { prototype?: object } | null;
        if (!metatype) continue;
        const methods = new Map<string, unknown>();
        for (
          let level = metatype.prototype;
          level && level !== Object.prototype;
          level = Object.getPrototypeOf(level)
        ) {
          for (const method of Object.getOwnPropertyNames(level)) {
            if (!methods.has(method)) methods.set(method, Object.getOwnPropertyDescriptor(level, method)?.value);
          }
        }
        yield { metatype, name: wrapper.name, methods };
      }
    }
  }

  /**
   * Whether Nest's own parts of the platform (its middleware on Express, its hooks on Fastify) do
   * nothing on a request now: none of the adapter's per-request hooks is set, and it is not
   * shutting down (when it may answer 503).
   */
  adapterIdle(): boolean {
    const adapter = this.http as unknown as Record<string, unknown>;
    return adapter.isShuttingDown !== true && ADAPTER_HOOKS.every((hook) => !adapter[hook]);
  }

  /**
   * The platform instance (Express app, Fastify instance) of a new adapter of the app's kind,
   * started and closed: what it holds is what Nest's adapter adds by itself, to tell from what
   * the app added.
   */
  async freshPlatform(): Promise<unknown> {
    const Adapter = this.http.constructor as new () => NestHttpAdapter;
    const instance = new Adapter().getInstance() as { ready?(): Promise<unknown>; close?(): Promise<unknown> };
    // Fastify adds hooks once its plugins have loaded; closed at once, it keeps them.
    if (typeof instance.ready === 'function') {
      await instance.ready();
      await instance.close?.();
    }
    return instance;
  }

  /**
   * Makes Nest skip its reply to a response the page cache wrote already; returns the set those
   * responses go in. Once per adapter, however many page caches share it (several apps).
   */
  skipReplyToAnswered(): WeakSet<object> {
    const http = this.http;
    if (http[PATCHED] !== undefined) return http[PATCHED];
    const answered = new WeakSet<object>();
    for (const method of REPLYING_METHODS) {
      const original = http[method].bind(http);
      http[method] = (response, ...rest) =>
        answered.has(response as object) ? undefined : original(response, ...rest);
    }
    http[PATCHED] = answered;
    return answered;
  }
}

function unsupportedNest(what: string): CacheConfigError {
  let version = 'this version';
  try {
    version = (createRequire(import.meta.url)('@nestjs/core/package.json') as { version: string }).version;
  } catch {
    // the message names no version then
  }
  return new CacheConfigError(
    `The page cache reads ${what}, which @nestjs/core ${version} does not have. Use @nestjs/core ^11 or ^12 ` +
      `(the lines this release of nestjs-caches supports), or a release of nestjs-caches that supports yours.`,
  );
}
