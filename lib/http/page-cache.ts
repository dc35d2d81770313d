import { hash } from 'node:crypto';
import { Inject, Injectable, Logger, VersioningType, type OnModuleInit } from '@nestjs/common';
import { HOST_METADATA, PATH_METADATA, VERSION_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost, ModuleRef, ModulesContainer } from '@nestjs/core';
import { Caches } from '../caches.js';
import { Flights } from '../core/flights.js';
import type { Cache } from '../core/cache.js';
import { versionedKeyPart } from '../invalidation/generations.js';
import type { CacheModuleOptions } from '../interfaces/cache-options.interface.js';
import { ExpressPageAdapter, type ExpressApp } from './adapters/express.page-adapter.js';
import { FastifyPageAdapter, type FastifyInstance } from './adapters/fastify.page-adapter.js';
import type { PageAdapter } from './adapters/page-adapter.interface.js';
import { recordWireMethods } from './adapters/wire-method.js';
import { CACHE_HTTP_OPTIONS, CACHE_OBSERVABILITY } from '../cache.constants.js';
import type { CacheObservability } from '../observability/cache-observability.js';
import { EarlyHits, type ServerLevel } from './early-hits.js';
import { HitForMiss } from './hit-for-miss.js';
import {
  FASTIFY_ROUTE_CONSTRAINTS_METADATA,
  NestInternals,
  type GlobalEnhancers,
  type NestHttpAdapter,
} from './nest-internals.js';
import { normalizeVary, urlHashOf, type PageRequest } from './page-keys.js';
import type { PageRule } from './page-rule.js';
import { PageStore } from './page-store.js';
import { answerAtServer } from './server-hits.js';
import { patchResponseHeaders, varyHeaderNames } from './response-headers.js';
import { DJANGO_RULES } from './rules/django.rules.js';
import { toStoredPage, type CapturedResponse, type StoredPage } from './stored-page.js';

/** The outcome of a response the page cache saw leave: kept, or why not. */
export type PageOutcome = { stored: StoredPage } | { refused: string };

/**
 * A request the handler answers: `variant` names the page it would get, `urlVariant` its URL (for
 * requests with the same credentials), both remembered when its response cannot be kept;
 * `computed` is set when other requests wait for this one's response, and must be called once it
 * is over (kept, refused or abandoned).
 */
export interface PageRun {
  readonly variant: string;
  readonly urlVariant: string;
  /** Whether the request brought credentials (`Authorization`, `Cookie`). */
  readonly credentialed: boolean;
  /** Of a hit-for-miss URL: whether this response is looked at (`probed` must then be called), or let go. */
  readonly probe?: 'probe' | 'skip';
  readonly computed: (() => void) | undefined;
}

/** What the page cache does with a request it may serve: answer it from a stored page, or run the handler. */
export type PageDecision = { answer: StoredPage; status: 'HIT' | 'STALE' } | { run: PageRun };

/**
 * The page cache's state in one app: the platform adapter, the responses answered from the cache,
 * the misses being computed (so that concurrent misses of a page wait for one handler run) and
 * the variants that cannot be kept (whose requests wait for no one).
 */
@Injectable()
export class PageCache implements OnModuleInit {
  readonly statusHeader: string;
  private platform: PageAdapter | undefined;
  private internals: NestInternals | undefined;
  private early: EarlyHits | undefined;
  /** Requests one of the page cache interceptors on their route has taken on. */
  private readonly claimed = new WeakSet<object>();
  /** Responses written from the cache, which Nest must then not write again. */
  private answered = new WeakSet<object>();
  /** Why Nest may route one method and URL to several handlers here, if it may; see `sharedUrlsOf`. */
  private sharedUrls: string | undefined;
  /** Each controller's part of its pages' keys, once handlers may share URLs: names and routing, made unique. */
  private readonly controllerScopes = new Map<object, string>();
  /** Misses being computed now, by page variant: later requests wait for them rather than run the handler. */
  private readonly computing = new Flights();
  private readonly hitForMiss = new HitForMiss();

  constructor(
    readonly caches: Caches,
    @Inject(CACHE_HTTP_OPTIONS) readonly options: CacheModuleOptions,
    private readonly adapterHost: HttpAdapterHost,
    private readonly moduleRef: ModuleRef,
    private readonly modulesContainer: ModulesContainer,
    /** Spans and the panel, for `cache.page`; `null` when there are neither. */
    @Inject(CACHE_OBSERVABILITY) readonly observability: CacheObservability | null,
  ) {
    this.statusHeader = options.statusHeader ?? 'X-Cache';
    if (options.site !== undefined) caches.get(options.site.cache ?? 'default'); // names the aliases if absent
  }

  /** Picks the platform, and makes Nest skip its reply to a response the cache already wrote. */
  async onModuleInit(): Promise<void> {
    const http = this.adapterHost?.httpAdapter as unknown as NestHttpAdapter | null | undefined;
    if (!http) return; // an application context (null) or a testing module (undefined): no HTTP
    this.internals = new NestInternals(this.moduleRef, this.modulesContainer, http);
    recordWireMethods(http.getHttpServer());
    this.platform =
      http.getType() === 'fastify'
        ? new FastifyPageAdapter(http.getInstance() as FastifyInstance)
        : new ExpressPageAdapter(http.getInstance() as ExpressApp);
    this.sharedUrls = this.sharedUrlsOf(this.internals);
    if (this.sharedUrls === undefined) {
      const server = await this.serverLevel(this.internals, this.platform);
      const early = new EarlyHits(this.platform, this.caches, this.statusHeader, this.observability, server);
      this.early = early;
      this.platform.answerBeforeRouting((request, response) => early.answer(request, response));
      if (server !== undefined)
        answerAtServer(http.getHttpServer(), (request, response) => early.answerAtServer(request, response));
    } else {
      new Logger('CacheModule').debug(`Page cache hits go through Nest's pipeline: ${this.sharedUrls}.`);
      this.scopeControllers(this.internals);
    }
    this.answered = this.internals.skipReplyToAnswered();
  }

  /**
   * How to tell the routes whose hits may be answered at the server's `request` event, unless
   * `serverHits: false` says not to, or the cache panel is on (it collects a request's calls
   * through the framework).
   */
  private async serverLevel(internals: NestInternals, platform: PageAdapter): Promise<ServerLevel | undefined> {
    if (this.options.serverHits === false || this.observability?.panel !== undefined) return undefined;
    let fresh: unknown;
    try {
      fresh = await internals.freshPlatform();
    } catch (error) {
      // An adapter that cannot be made again (a subclass that needs arguments): no hit is answered there.
      new Logger('CacheModule').debug(`Page cache hits are not answered at the server: ${String(error)}.`);
      return undefined;
    }
    return {
      idle: () => internals.adapterIdle(),
      registrations: () => platform.registrations(),
      nothingRunsBefore: (path) => platform.whatRunsBefore(path, fresh) === undefined,
    };
  }

  /**
   * Why Nest may send one method and URL to different handlers in this app, by something the
   * page key does not hold, or `undefined` if it cannot: versioning other than by URI (a header,
   * the media type, an extractor), a controller bound to a host (matched on `req.hostname`,
   * which a trusted proxy's `X-Forwarded-Host` sets, while the key holds `Host`), or Fastify
   * route constraints. App-wide, since the handler that answers may be another than the one that
   * was learned. Then no hit is answered before routing, and each controller keeps its own pages.
   */
  private sharedUrlsOf(internals: NestInternals): string | undefined {
    const versioning = internals.versioning();
    if (versioning !== undefined && versioning.type !== VersioningType.URI) return 'versioning not by URI';
    for (const { metatype, name, methods } of internals.controllers()) {
      if (Reflect.getMetadata(HOST_METADATA, metatype) !== undefined) return `${name} is bound to a host`;
      for (const target of [metatype, ...methods.values()]) {
        if (typeof target === 'function' && Reflect.getMetadata(FASTIFY_ROUTE_CONSTRAINTS_METADATA, target)) {
          return `${name} has route constraints`;
        }
      }
    }
    return undefined;
  }

  /**
   * Gives each controller its part of its pages' keys: its name and what it routes by, so that
   * instances sharing a store agree whatever the order their modules load in; a numbered suffix
   * only for controllers alike in all that.
   */
  private scopeControllers(internals: NestInternals): void {
    for (const { metatype, name } of internals.controllers()) {
      if (this.controllerScopes.has(metatype)) continue; // one controller in several modules
      const routing = [PATH_METADATA, HOST_METADATA, VERSION_METADATA].map((key) =>
        JSON.stringify(Reflect.getMetadata(key, metatype) ?? null),
      );
      const base = `${name}~${hash('md5', routing.join(','), 'hex').slice(0, 12)}`;
      let scope = base;
      for (let n = 2; [...this.controllerScopes.values()].includes(scope); n++) scope = `${base}~${n}`;
      this.controllerScopes.set(metatype, scope);
    }
  }

  /**
   * The rule a route's pages are kept under: once handlers may share URLs, the controller and
   * method go into the key prefix, so that a page is only ever found by the handler that made it.
   */
  scopedRule(rule: PageRule, controller: object, handler: object): PageRule {
    if (this.sharedUrls === undefined) return rule;
    const scope = this.controllerScopes.get(controller) ?? (controller as { name?: string }).name;
    return { ...rule, keyPrefix: `${rule.keyPrefix}.${scope}.${(handler as { name?: string }).name}` };
  }

  /** Whether a hit may be answered before Nest's router at all in this app; see `sharedUrlsOf`. */
  get answersBeforeRouting(): boolean {
    return this.sharedUrls === undefined;
  }

  get adapter(): PageAdapter | undefined {
    return this.platform;
  }

  /** The app's global enhancers; `undefined` before the app has an HTTP adapter. */
  globalEnhancers(): GlobalEnhancers | undefined {
    return this.internals?.globalEnhancers();
  }

  /** True for the first interceptor to ask about a request: it alone handles it. */
  claim(request: object): boolean {
    if (this.claimed.has(request)) return false;
    this.claimed.add(request);
    return true;
  }

  markAnswered(response: object): void {
    this.answered.add(response);
  }

  /**
   * A page answered this request in the pipeline: its route's hits may be answered early from
   * now on (`origin` when the route may be at all), with credentials too if it had some.
   */
  answeredFromPage(request: PageRequest, rule: PageRule, origin: string | undefined): void {
    if (origin === undefined) return;
    this.early?.learn(request, rule, origin);
    if (hasCredentials(request)) this.early?.answeredWithCredentials(request);
  }

  /**
   * The handler's response to this request was kept or not: kept, later hits may be answered
   * early; not kept, and the request brought no credentials (which only make it someone's
   * own), its route's requests are not looked up early until a page answers one again.
   */
  responseSeen(request: PageRequest, rule: PageRule, origin: string | undefined, kept: boolean): void {
    if (kept) {
      if (origin !== undefined) this.early?.learn(request, rule, origin);
    } else if (!hasCredentials(request)) {
      this.early?.forget(request);
    }
  }

  /**
   * The rule with the current generations of its `dependsOn` folded into the key prefix, read
   * before the handler runs; `undefined` when the store fails (the page is then not cached).
   */
  async versioned(cache: Cache, rule: PageRule, request: object): Promise<PageRule | undefined> {
    if (rule.dependsOn === undefined) return rule;
    const kept = rule.timeout === undefined ? undefined : rule.timeout + rule.staleWhileRevalidate;
    try {
      const part = await versionedKeyPart(cache, rule.dependsOn, request, kept);
      return { ...rule, keyPrefix: `${rule.keyPrefix}.${part}` };
    } catch {
      return undefined; // the store fails: as a lookup that fails, a miss
    }
  }

  /**
   * The one decision on a request the page cache may serve (Django's `FetchFromCacheMiddleware`,
   * with misses coalesced): a fresh page answers; a request that could use another's result waits
   * for the computation under way, or is answered from the stale page meanwhile; a request that
   * could not (credentials the page does not vary on, a variant last found uncacheable) runs at once.
   */
  /**
   * The decision made without a lookup, if there is one: the URL's last response to requests
   * with these credentials could not be kept (hit-for-miss), so the handler runs at once.
   */
  decideAtOnce(rule: PageRule, request: PageRequest, urlHash = urlHashOf(request)): PageRun | undefined {
    const credentials = credentialsPart(request);
    const urlVariant = `${rule.cache}\n${PageStore.variantOf(rule.keyPrefix, request, undefined, urlHash)}\n${credentials}`;
    const probe = this.hitForMiss.probe(urlVariant);
    if (probe === undefined) return undefined;
    return { variant: urlVariant, urlVariant, credentialed: credentials !== '', computed: undefined, probe };
  }

  /** A probe of a hit-for-miss URL is over. */
  probed(run: PageRun): void {
    this.hitForMiss.probed(run.urlVariant);
  }

  async decide(cache: Cache, rule: PageRule, request: PageRequest, checked = false): Promise<PageDecision> {
    const urlHash = urlHashOf(request);
    const atOnce = checked ? undefined : this.decideAtOnce(rule, request, urlHash);
    if (atOnce !== undefined) return { run: atOnce };
    const credentials = credentialsPart(request);
    const urlVariant = `${rule.cache}\n${PageStore.variantOf(rule.keyPrefix, request, undefined, urlHash)}\n${credentials}`;
    const credentialed = credentials !== '';
    const rules = rule.rules ?? DJANGO_RULES;
    const found = await PageStore.lookup(cache, rule.keyPrefix, request, urlHash);
    const use = found.page === undefined ? 'unusable' : rules.use(found.page, request, Date.now());
    if (use === 'fresh') return { answer: found.page!, status: 'HIT' };
    const variant =
      found.varyOn === undefined
        ? urlVariant
        : `${rule.cache}\n${PageStore.variantOf(rule.keyPrefix, request, found.varyOn, urlHash)}\n${credentials}`;
    if (!rules.mayWaitForOthers(request, found.varyOn) || this.hitForMiss.has(variant)) {
      return { run: { variant, urlVariant, credentialed, computed: undefined } };
    }
    const computing = this.computing.runningNow(variant);
    if (computing === undefined) {
      // This request computes the page; later ones wait for it (registered now, before any await).
      let computed!: () => void;
      const over = new Promise<void>((resolve) => (computed = resolve));
      void this.computing.run(variant, () => over);
      return { run: { variant, urlVariant, credentialed, computed } };
    }
    // Another request is recomputing this page: the old one answers meanwhile.
    if (use === 'stale') return { answer: found.page!, status: 'STALE' };
    await computing;
    const after = await PageStore.lookup(cache, rule.keyPrefix, request, urlHash);
    if (after.page !== undefined && rules.use(after.page, request, Date.now()) === 'fresh') {
      return { answer: after.page, status: 'HIT' };
    }
    return { run: { variant, urlVariant, credentialed, computed: undefined } };
  }

  /**
   * Decides whether a response leaving the app is kept and, if so, adds its cache headers and
   * stores it (Django's `UpdateCacheMiddleware`); resolves once it is stored. A response that
   * is not kept makes its variant hit-for-miss; one that is kept clears it.
   */
  keep(
    cache: Cache,
    rule: PageRule,
    request: PageRequest,
    run: PageRun,
    response: CapturedResponse,
  ): { outcome: PageOutcome; stored: Promise<void> } {
    const rules = rule.rules ?? DJANGO_RULES;
    const refusal = rules.refusal(response, request);
    if (refusal !== undefined) return this.refused(run, refusal);
    const timeout = rules.keepSeconds(
      response,
      { page: rule.timeout, fallback: rule.fallbackTimeout },
      cache.defaultTimeout,
    );
    if (timeout !== null && timeout <= 0) {
      patchResponseHeaders(response, 0); // as Django: the response says it is not to be kept
      return this.refused(run, 'timeout 0');
    }
    const page = toStoredPage(response, timeout);
    const varyOn = normalizeVary(varyHeaderNames(response));
    this.hitForMiss.forget(run.variant);
    this.hitForMiss.forget(run.urlVariant);
    const kept = timeout === null ? null : timeout + rule.staleWhileRevalidate;
    return { outcome: { stored: page }, stored: PageStore.keep(cache, rule.keyPrefix, request, page, varyOn, kept) };
  }

  /**
   * Remembers the page as hit-for-miss; for requests with credentials, the whole URL (for the
   * same credentials): what makes their responses uncacheable is most often what they bring, and
   * anonymous requests, which it never covers, keep their pages.
   */
  private refused(run: PageRun, refusal: string): { outcome: PageOutcome; stored: Promise<void> } {
    this.hitForMiss.remember(run.variant);
    if (run.credentialed) this.hitForMiss.remember(run.urlVariant);
    return { outcome: { refused: refusal }, stored: Promise.resolve() };
  }
}

function hasCredentials(request: PageRequest): boolean {
  return request.header('authorization') !== undefined || request.header('cookie') !== undefined;
}

/** What a request brings that could make a response its own: a request with credentials is never counted with one without. */
function credentialsPart(request: PageRequest): string {
  return (
    (request.header('authorization') === undefined ? '' : 'a') + (request.header('cookie') === undefined ? '' : 'c')
  );
}
