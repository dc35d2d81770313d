import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pageAddressOf, type PageRequest } from '../page-keys.js';
import type { HeaderAccess } from '../response-headers.js';
import type { CapturedResponse } from '../stored-page.js';
import { BODY_HEADERS, beforeHeadersLeave, capturedNode, headerValue } from './node-response.js';
import type { PageAdapter } from './page-adapter.interface.js';
import { wireMethodOf } from './wire-method.js';

type Finish = (response: CapturedResponse) => void;

// The parts of Fastify used here, written out so that Fastify stays an optional install.
interface FastifyRequest {
  method: string;
  protocol: string;
  url: string;
  host: string | undefined;
  headers: IncomingHttpHeaders;
  raw: IncomingMessage;
}

interface FastifyReply {
  raw: ServerResponse;
  sent: boolean;
  statusCode: number;
  code(status: number): FastifyReply;
  header(name: string, value: string): FastifyReply;
  getHeader(name: string): string | number | string[] | undefined;
  getHeaders(): Record<string, unknown>;
  removeHeader(name: string): FastifyReply;
  send(payload?: unknown): FastifyReply;
}

type OnSend = (
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error: Error | null, payload: unknown) => void,
) => void;

type OnRequest = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void;

export interface FastifyInstance {
  addHook(name: 'onSend', hook: OnSend): unknown;
  addHook(name: 'onRequest', hook: OnRequest): unknown;
}

// Fastify's request lifecycle hooks (lib/hooks.js), each of which could run for a hit.
const LIFECYCLE_HOOKS = [
  'onRequest',
  'preParsing',
  'preValidation',
  'preHandler',
  'preSerialization',
  'onSend',
  'onResponse',
  'onError',
  'onTimeout',
  'onRequestAbort',
] as const;

/** Fastify's and @fastify/middie's state, under the symbols they keep it behind (by description). */
function symbolState<T>(target: object, description: string): T | undefined {
  const symbol = symbolOf(target, description);
  return symbol === undefined ? undefined : ((target as Record<symbol, T>)[symbol] as T);
}

function symbolOf(target: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(target).find((candidate) => candidate.description === description);
}

type Hooks = Partial<Record<(typeof LIFECYCLE_HOOKS)[number], Array<(...args: unknown[]) => unknown>>>;

/**
 * Fastify: a body is serialized before the `onSend` hooks, which may still change headers; one
 * hook, added at startup, hands the responses being captured to the page cache.
 */
export class FastifyPageAdapter implements PageAdapter {
  /**
   * Requests whose response is awaited, until it is sent; entries go with their request. Each
   * gives the payload to send (none once the response became a `304`).
   */
  private readonly finishers = new WeakMap<FastifyRequest, (payload: unknown) => unknown>();
  /** The page cache's own hooks. */
  private readonly ownHooks = new Set<unknown>();
  /** The symbols Fastify and @fastify/middie keep their state behind, by description, once found. */
  private readonly symbols = new Map<string, symbol>();

  constructor(private readonly instance: FastifyInstance) {
    const onSend: OnSend = (request, reply, payload, done) => {
      const finish = this.finishers.get(request);
      if (finish === undefined) return done(null, payload);
      this.finishers.delete(request);
      done(null, finish(payload));
    };
    this.ownHooks.add(onSend);
    instance.addHook('onSend', onSend);
  }

  /**
   * An `onRequest` hook: Fastify has routed the request, and hooks run in the order they were
   * added, so this one comes after Nest's middleware (which Nest adds when the app starts).
   */
  answerBeforeRouting(answer: (request: unknown, reply: unknown) => Promise<boolean>): void {
    const onRequest: OnRequest = (request, reply, done) => {
      // An answered request stops here: its reply is sent, and `done` is not called.
      answer(request, reply).then((answered) => answered || done(), done);
    };
    this.ownHooks.add(onRequest);
    this.instance.addHook('onRequest', onRequest);
  }

  describe(request: FastifyRequest): PageRequest {
    // Fastify 5: `Host`, or `X-Forwarded-Host` under `trustProxy`, port included.
    const { host, protocol, url } = request;
    return {
      method: request.method,
      wireMethod: wireMethodOf(request.raw),
      scheme: protocol,
      host,
      url: `${protocol}://${host ?? ''}${url}`,
      address: pageAddressOf(protocol, host, request.headers.host, url),
      header: (name) => headerValue(request.headers[name.toLowerCase()]),
    };
  }

  headersOf(reply: FastifyReply): HeaderAccess {
    return {
      get: (name) => headerValue(reply.getHeader(name)),
      set: (name, value) => void reply.header(name, value),
    };
  }

  headersSent(reply: FastifyReply): boolean {
    return reply.sent || reply.raw.headersSent;
  }

  send(
    reply: FastifyReply,
    status: number,
    headers: Iterable<readonly [string, string]>,
    body: string | undefined,
  ): void {
    reply.code(status);
    for (const [name, value] of headers) reply.header(name, value);
    void reply.send(body === undefined ? undefined : Buffer.from(body, 'latin1'));
  }

  /**
   * Seen in the `onSend` hook; a handler that writes to `reply.raw` itself goes around Fastify's
   * hooks, so its response is seen where Node's headers leave, as on Express.
   */
  capture(request: FastifyRequest, reply: FastifyReply, finish: Finish): void {
    let over = false;
    const once = (captured: () => CapturedResponse) => {
      if (over) return;
      over = true;
      finish(captured());
    };
    this.finishers.set(request, (payload) => {
      once(() => capturedFastify(reply, payloadBytes(payload)));
      return reply.statusCode === 304 ? null : payload;
    });
    beforeHeadersLeave(reply.raw, (body) => {
      this.finishers.delete(request);
      once(() => capturedNode(reply.raw, body));
    });
  }

  onClose(reply: FastifyReply, callback: () => void): void {
    reply.raw.once('close', callback);
  }

  /**
   * Every lifecycle hook of the root context must be the page cache's, one of Nest's own (those a
   * new adapter's instance holds), or @fastify/middie's with no middleware; Nest's routes are
   * registered on the root context, so no plugin's encapsulated hooks reach them. Options that
   * act per request (a URL rewrite, request logging) run too.
   */
  whatRunsBefore(_path: string, fresh: unknown): string | undefined {
    const options = this.state<Record<string, unknown>>('fastify.options') ?? {};
    if (options.rewriteUrl !== undefined) return "Fastify's rewriteUrl";
    // Request logging: Fastify logs through a no-op logger unless given one (a new instance's is that one).
    const logs = (instance: object) => String((instance as { log?: { info?: unknown } }).log?.info);
    if (logs(this.instance) !== logs(fresh as object)) return "Fastify's request logging";
    if (this.state<boolean>('fastify-middie-has-middlewares') === true) return 'middleware';
    const hooks = this.state<Hooks>('fastify.hooks');
    const nests = symbolState<Hooks>(fresh as object, 'fastify.hooks');
    if (hooks === undefined || nests === undefined) return "Fastify's hooks (not readable)";
    for (const name of LIFECYCLE_HOOKS) {
      const nest = new Set((nests[name] ?? []).map(String));
      for (const hook of hooks[name] ?? []) {
        if (this.ownHooks.has(hook) || nest.has(String(hook)) || hook.name === 'runMiddie') continue;
        return `a Fastify ${name} hook${hook.name ? ` (${hook.name})` : ''}`;
      }
    }
    return undefined;
  }

  registrations(): number {
    const hooks = this.state<Hooks>('fastify.hooks') ?? {};
    const middleware = this.state<unknown[]>('fastify-middie-middlewares')?.length ?? 0;
    return LIFECYCLE_HOOKS.reduce((sum, name) => sum + (hooks[name]?.length ?? 0), middleware);
  }

  /** Asked on every request answered at the server: the symbol is looked for once. */
  private state<T>(description: string): T | undefined {
    let symbol = this.symbols.get(description);
    if (symbol === undefined) {
      symbol = symbolOf(this.instance, description);
      if (symbol === undefined) return undefined;
      this.symbols.set(description, symbol);
    }
    return (this.instance as unknown as Record<symbol, T>)[symbol];
  }
}

/** The body as bytes; `undefined` for a stream, which is never stored. */
function payloadBytes(payload: unknown): Buffer | undefined {
  if (payload === undefined || payload === null) return Buffer.alloc(0);
  if (typeof payload === 'string') return Buffer.from(payload);
  if (Buffer.isBuffer(payload)) return payload;
  return undefined;
}

function capturedFastify(reply: FastifyReply, body: Buffer | undefined): CapturedResponse {
  return {
    status: reply.statusCode,
    body,
    get: (name) => headerValue(reply.getHeader(name)),
    set: (name, value) => void reply.header(name, value),
    headerNames: () => Object.keys(reply.getHeaders()),
    notModified: () => {
      reply.code(304);
      for (const name of BODY_HEADERS) reply.removeHeader(name);
    },
  };
}
