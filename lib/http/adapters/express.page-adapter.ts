import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PageRequest } from '../page-keys.js';
import type { HeaderAccess } from '../response-headers.js';
import type { CapturedResponse } from '../stored-page.js';
import type { PageAdapter } from './page-adapter.interface.js';

/** The parts of Express's request used here (Express extends Node's). */
interface ExpressRequest extends IncomingMessage {
  protocol: string;
  originalUrl: string;
}

type End = ServerResponse['end'];
type Middleware = (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void;

/** The parts of an Express 5 application used here. */
export interface ExpressApp {
  use(middleware: Middleware): unknown;
  router: { stack: Array<{ route?: { stack: Array<{ handle: { name: string } }> } }> };
}

/** Express: responses are Node's `ServerResponse`; a body leaves through `end()`. */
export class ExpressPageAdapter implements PageAdapter {
  /** @param routeHandlerNames what Nest names its route handlers (`Controller.method`) */
  constructor(
    private readonly app: ExpressApp,
    private readonly routeHandlerNames: ReadonlySet<string>,
  ) {}

  /**
   * A middleware placed right before the first of Nest's route handlers: after every middleware
   * (the app's and the modules', which Nest mounts before its routes, some as routes of their
   * own), since Express runs its stack in order. If none is found it stays last, where it never
   * answers anything.
   */
  answerBeforeRouting(answer: (request: unknown, response: unknown) => Promise<boolean>): void {
    this.app.use((request, response, next) => {
      answer(request, response).then((answered) => answered || next(), next);
    });
    const stack = this.app.router.stack;
    const layer = stack.pop()!;
    const firstHandler = stack.findIndex((candidate) =>
      candidate.route?.stack.some((step) => this.routeHandlerNames.has(step.handle.name)),
    );
    stack.splice(firstHandler === -1 ? stack.length : firstHandler, 0, layer);
  }

  describe(request: ExpressRequest): PageRequest {
    return {
      method: request.method!,
      url: `${request.protocol}://${request.headers.host ?? ''}${request.originalUrl}`,
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
   * Wraps this response's `write` and `end`: Express sends a whole body with one `end(chunk)`,
   * before the headers go out, so the body and the final headers are both in hand there.
   */
  capture(_request: unknown, response: ServerResponse, finish: (response: CapturedResponse) => void): void {
    const { write, end } = response;
    let streamed = false;
    response.write = function (this: ServerResponse, ...args: unknown[]) {
      streamed = true;
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as ServerResponse['write'];
    response.end = function (this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) {
      response.write = write;
      response.end = end;
      if (!response.headersSent) {
        const body = streamed ? undefined : bodyOf(chunk, encoding);
        finish(capturedExpress(response, body));
      }
      return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, encoding, callback);
    } as End;
  }

  onClose(response: ServerResponse, callback: () => void): void {
    response.once('close', callback);
  }
}

function capturedExpress(response: ServerResponse, body: Buffer | undefined): CapturedResponse {
  return {
    status: response.statusCode,
    body,
    get: (name) => headerValue(response.getHeader(name)),
    set: (name, value) => response.setHeader(name, value),
    headerNames: () => response.getHeaderNames(),
  };
}

function bodyOf(chunk: unknown, encoding: unknown): Buffer {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return Buffer.alloc(0);
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  const view = chunk as ArrayBufferView;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * One string for a header, whatever Node holds (numbers, repeated headers). Anything else is no
 * header: a name such as `constructor`, taken from a response's `Vary`, finds what a plain object
 * inherits.
 */
export function headerValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.join(', ');
  return undefined;
}
