import type { ServerResponse } from 'node:http';
import type { CapturedResponse } from '../stored-page.js';

type Method = (this: ServerResponse, ...args: unknown[]) => unknown;
const LEAVING = ['writeHead', 'flushHeaders', 'write', 'end'] as const;

/**
 * Calls `leaving` once, just before the headers of a Node response go out, while they can still
 * change: with the whole body when it leaves in one `end(chunk)`, with `undefined` when the headers
 * leave first (`writeHead`, `flushHeaders`, a first `write`: a stream, never stored). Not at all if
 * the headers are gone already.
 */
export function beforeHeadersLeave(response: ServerResponse, leaving: (body: Buffer | undefined) => void): void {
  const target = response as unknown as Record<(typeof LEAVING)[number], Method>;
  const originals = LEAVING.map((name) => [name, target[name]] as const);
  let over = false;
  const once = (body: () => Buffer | undefined) => {
    if (over) return;
    over = true;
    // Put back only what is still ours: whoever wrapped these after us keeps their wrapper.
    for (const [name, original] of originals) if (target[name] === wrappers[name]) target[name] = original;
    if (!response.headersSent) leaving(body());
  };
  const wrappers = {} as Record<(typeof LEAVING)[number], Method>;
  for (const [name, original] of originals) {
    wrappers[name] = function (this: ServerResponse, ...args: unknown[]) {
      once(() => (name === 'end' ? bodyOf(args[0], args[1]) : undefined));
      return original.apply(this, args);
    };
    target[name] = wrappers[name];
  }
}

/** A Node response as the page cache reads and patches it. */
export function capturedNode(response: ServerResponse, body: Buffer | undefined): CapturedResponse {
  return {
    status: response.statusCode,
    body,
    get: (name) => headerValue(response.getHeader(name)),
    set: (name, value) => response.setHeader(name, value),
    headerNames: () => response.getHeaderNames(),
    notModified: () => {
      // Node itself sends no body with a 304.
      response.statusCode = 304;
      for (const name of BODY_HEADERS) response.removeHeader(name);
    },
  };
}

/** What a `304` leaves out: it has no body to describe. */
export const BODY_HEADERS = ['content-type', 'content-length', 'transfer-encoding'] as const;

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
