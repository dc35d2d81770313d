import { METHOD_METADATA } from '@nestjs/common/constants.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pageAddressOf, type PageRequest } from '../page-keys.js';
import type { HeaderAccess } from '../response-headers.js';
import type { CapturedResponse } from '../stored-page.js';
import { beforeHeadersLeave, capturedNode, headerValue } from './node-response.js';
import type { PageAdapter } from './page-adapter.interface.js';
import { wireMethodOf } from './wire-method.js';

/** The parts of Express's request used here (Express extends Node's). */
interface ExpressRequest extends IncomingMessage {
  protocol: string;
  baseUrl: string;
  url: string;
  /** Express 5: `Host`, or `X-Forwarded-Host` under `trust proxy`. */
  host: string | undefined;
}

type Middleware = (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void;

/** A layer of Express 5's router (the `router` package). */
interface Layer {
  name: string;
  handle: object;
  route?: { stack: Array<{ handle: object }> };
  match(path: string): boolean;
}

/** The parts of an Express 5 application used here. */
export interface ExpressApp {
  use(middleware: Middleware): unknown;
  router: { stack: Layer[] };
}

// body-parser's middleware, as Nest registers them: they read only requests with a body, which
// the page cache never answers (see isCacheableRequest).
const BODY_PARSERS = new Set(['jsonParser', 'urlencodedParser', 'rawParser', 'textParser']);

/** Express: responses are Node's `ServerResponse`; a body leaves through `end()`. */
export class ExpressPageAdapter implements PageAdapter {
  /** The page cache's own middleware, once placed. */
  private early: Middleware | undefined;

  constructor(private readonly app: ExpressApp) {}

  /**
   * A middleware placed right before the first of Nest's route handlers: after every middleware
   * (the app's and the modules', which Nest mounts before its routes, some as routes of their
   * own), since Express runs its stack in order. If none is found it stays last, where it never
   * answers anything.
   */
  answerBeforeRouting(answer: (request: unknown, response: unknown) => Promise<boolean>): void {
    this.early = (request, response, next) => {
      answer(request, response).then((answered) => answered || next(), next);
    };
    this.app.use(this.early);
    const stack = this.app.router.stack;
    const layer = stack.pop()!;
    const firstHandler = stack.findIndex((candidate) =>
      candidate.route?.stack.some((step) => isNestRouteHandler(step.handle)),
    );
    stack.splice(firstHandler === -1 ? stack.length : firstHandler, 0, layer);
  }

  /**
   * The URL is the one Express routes (`req.url` under its mount point): a middleware that rewrites
   * it (by a header, say) sends the request to another handler, whose pages must be other keys.
   */
  describe(request: ExpressRequest): PageRequest {
    const { host, protocol } = request;
    const target = `${request.baseUrl}${request.url}`;
    return {
      method: request.method!,
      wireMethod: wireMethodOf(request),
      scheme: protocol,
      host,
      url: `${protocol}://${host ?? ''}${target}`,
      address: pageAddressOf(protocol, host, request.headers.host, target),
      header: (name) => headerValue(request.headers[name.toLowerCase()]),
    };
  }

  headersOf(response: ServerResponse): HeaderAccess {
    return {
      get: (name) => headerValue(response.getHeader(name)),
      set: (name, value) => response.setHeader(name, value),
    };
  }

  headersSent(response: ServerResponse): boolean {
    return response.headersSent;
  }

  send(
    response: ServerResponse,
    status: number,
    headers: Iterable<readonly [string, string]>,
    body: string | undefined,
  ): void {
    response.statusCode = status;
    for (const [name, value] of headers) response.setHeader(name, value);
    if (body === undefined) response.end();
    else response.end(body, 'latin1');
  }

  /**
   * Express sends a whole body with one `end(chunk)`, before the headers go out, so the body and
   * the final headers are both in hand there; a streamed body sends its headers with its first
   * chunk, and is seen there.
   */
  capture(request: object, response: ServerResponse, finish: (response: CapturedResponse) => void): void {
    // Express would answer a conditional request 304 itself, and the page would never be seen:
    // the page cache answers it instead, once the 200 is stored.
    Object.defineProperty(request, 'fresh', { configurable: true, value: false });
    beforeHeadersLeave(response, (body) => finish(capturedNode(response, body)));
  }

  onClose(response: ServerResponse, callback: () => void): void {
    response.once('close', callback);
  }

  /**
   * The layers Express runs before the page cache's for `path`: each must be the page cache's,
   * a body parser, or one of Nest's own (the layers a new adapter's app holds); a route of
   * middleware or a middleware of the app's is something that runs.
   */
  whatRunsBefore(path: string, fresh: unknown): string | undefined {
    const nests = new Set((fresh as ExpressApp).router.stack.map((layer) => String(layer.handle)));
    for (const layer of this.app.router.stack) {
      if (layer.handle === this.early) return undefined;
      if (BODY_PARSERS.has(layer.name) || nests.has(String(layer.handle)) || !layer.match(path)) continue;
      return `the middleware ${layer.name === '<anonymous>' ? '(anonymous)' : layer.name}`;
    }
    return 'the page cache is not before the routes';
  }

  registrations(): number {
    return this.app.router.stack.length;
  }
}

/**
 * Nest copies the metadata of a controller method (its `@Get()`'s request method among them) to
 * the handler it gives Express; the middleware it mounts as routes have none. (NestJS 12 also
 * names handlers `Controller.method`, NestJS 11 does not: the metadata is on both lines.)
 */
function isNestRouteHandler(handle: object): boolean {
  return Reflect.getMetadata(METHOD_METADATA, handle) !== undefined;
}
