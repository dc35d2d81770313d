import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Caches } from '../caches.js';
import type { CacheObservability } from '../observability/cache-observability.js';
import type { PageAdapter } from './adapters/page-adapter.interface.js';
import { answerFromPage } from './page-answer.js';
import { isCacheableRequest, urlHashOf, type PageRequest } from './page-keys.js';
import type { PageRule } from './page-rule.js';
import { PageStore } from './page-store.js';
import { DJANGO_RULES } from './rules/django.rules.js';
import { describeAtServer, sendAtServer } from './server-hits.js';

// Routes whose hits may be answered before Nest's router; a bound on memory, not a tuning knob.
const EARLY_ROUTES_LIMIT = 10_000;

interface EarlyRoute {
  rule: PageRule;
  urlHash: string;
  /** What makes the page's cache calls, as the panel lists it. */
  origin: string;
  /** The path as routed, without the query. */
  path: string;
  /** Whether hits may be answered at the server's `request` event, as of `checkedAt` registrations. */
  atServer: boolean;
  checkedAt: number;
  /**
   * Whether a page of the route answered a request with credentials (`Authorization`, cookies):
   * until one did, such requests go to the pipeline at once, rather than be looked up in vain.
   */
  credentialed: boolean;
}

/** What tells whether the framework would run anything for a route before the page cache. */
export interface ServerLevel {
  /** Nest's own parts of the platform do nothing on a request right now. */
  idle(): boolean;
  /** Changes whenever middleware or hooks are registered. */
  registrations(): number;
  /** Nothing of the app's runs before the page cache for this path. */
  nothingRunsBefore(path: string): boolean;
}

/**
 * Fresh hits answered before Nest's pipeline, for the method and URL of routes that run nothing
 * but the page cache (no guard, no other interceptor): skipping the pipeline changes nothing but
 * the cost. Anything else (a miss, a stale page, a page not for this requester) goes down the
 * pipeline as usual, where the interceptor decides.
 */
export class EarlyHits {
  private readonly routes = new Map<string, EarlyRoute>();

  /** `server`, when hits may be answered at the server's `request` event where nothing else would run. */
  constructor(
    private readonly adapter: PageAdapter,
    private readonly caches: Caches,
    private readonly statusHeader: string,
    private readonly observability: CacheObservability | null,
    private readonly server: ServerLevel | undefined,
  ) {}

  /**
   * Remembers that hits of this method and URL may be answered early, under this rule. By method
   * too: a HEAD may have a handler of its own, which a GET's page must not skip.
   */
  learn(request: PageRequest, rule: PageRule, origin: string): void {
    const route = `${request.method} ${request.address}`;
    if (this.routes.has(route)) return;
    if (this.routes.size >= EARLY_ROUTES_LIMIT) this.routes.delete(this.routes.keys().next().value!);
    const target = (JSON.parse(request.address) as unknown[])[3] as string;
    const path = target.split('?')[0]!;
    this.routes.set(route, {
      rule,
      urlHash: urlHashOf(request),
      origin,
      path,
      atServer: false,
      checkedAt: NaN,
      credentialed: false,
    });
  }

  /** The route's last response was not kept: its requests go to the pipeline until one is. */
  forget(request: PageRequest): void {
    if (this.routes.size > 0) this.routes.delete(`${request.method} ${request.address}`);
  }

  /** A page of the route answered a request with credentials: such requests are looked up early too. */
  answeredWithCredentials(request: PageRequest): void {
    const route = this.routes.get(`${request.method} ${request.address}`);
    if (route !== undefined) route.credentialed = true;
  }

  /** Answers a fresh hit of a learned route once routed; `false` leaves the request to the pipeline. */
  async answer(request: unknown, response: unknown): Promise<boolean> {
    if (this.routes.size === 0) return false;
    const described = this.adapter.describe(request);
    if (!isCacheableRequest(described)) return false;
    const route = this.routeFor(described);
    if (route === undefined) return false;
    return this.answerFrom(route, described, response, (...sent) => this.adapter.send(...sent));
  }

  /**
   * Answers a fresh hit at the server's `request` event, for a route where nothing but the page
   * cache would run before the handler; `false` (at once) for every other request.
   */
  answerAtServer(request: IncomingMessage, response: ServerResponse): false | Promise<boolean> {
    const server = this.server;
    if (server === undefined || this.routes.size === 0) return false;
    const described = describeAtServer(request);
    if (described === undefined) return false;
    const route = this.routeFor(described);
    if (route === undefined || !server.idle()) return false;
    const registrations = server.registrations();
    if (route.checkedAt !== registrations) {
      route.atServer = server.nothingRunsBefore(route.path);
      route.checkedAt = registrations;
    }
    if (!route.atServer) return false;
    return this.answerFrom(route, described, response, sendAtServer as PageAdapter['send']);
  }

  private routeFor(request: PageRequest): EarlyRoute | undefined {
    const route = this.routes.get(`${request.method} ${request.address}`);
    if (route === undefined || route.credentialed) return route;
    const credentialed = request.header('authorization') !== undefined || request.header('cookie') !== undefined;
    return credentialed ? undefined : route;
  }

  private async answerFrom(
    route: EarlyRoute,
    described: PageRequest,
    response: unknown,
    send: PageAdapter['send'],
  ): Promise<boolean> {
    const started = performance.now();
    const cache = this.caches.get(route.rule.cache);
    // Its span says MISS when the pipeline takes the request on: its own page span gives the outcome.
    const watch = this.observability?.watchPage(route.origin, cache, true);
    const lookup = () => PageStore.lookup(cache, route.rule.keyPrefix, described, route.urlHash);
    const { page } = await (watch === undefined ? lookup() : this.observability!.inPage(watch, lookup));
    const rules = route.rule.rules ?? DJANGO_RULES;
    if (page === undefined || rules.use(page, described, Date.now()) !== 'fresh') {
      this.observability?.endPage(watch, 'MISS');
      return false;
    }
    answerFromPage(send, response, page, described, performance.now() - started, 'HIT', this.statusHeader);
    this.observability?.endPage(watch, 'HIT');
    return true;
  }
}
