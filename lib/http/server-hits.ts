import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValue } from './adapters/node-response.js';
import { pageAddressOf, type PageRequest } from './page-keys.js';

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

interface RequestEvents {
  listeners(event: 'request'): RequestListener[];
  removeAllListeners(event: 'request'): unknown;
  on(event: 'request', listener: RequestListener): unknown;
}

/**
 * Answers page hits at the HTTP server's `request` event, before the framework sees the request:
 * the server's `request` listeners (the framework's, and any before it) are moved behind
 * `answer`, and run only for the requests it does not answer. `answer` says `false` at once for
 * a request it will not try, so those reach the framework in the same turn as before.
 */
export function answerAtServer(
  server: unknown,
  answer: (request: IncomingMessage, response: ServerResponse) => false | Promise<boolean>,
): void {
  const events = server as RequestEvents | null | undefined;
  if (typeof events?.listeners !== 'function') return;
  const framework = events.listeners('request');
  if (framework.length === 0) return;
  const pass = (request: IncomingMessage, response: ServerResponse) => {
    for (const listener of framework) listener.call(server, request, response);
  };
  events.removeAllListeners('request');
  events.on('request', (request, response) => {
    const answering = answer(request, response);
    if (answering === false) return pass(request, response);
    answering.then(
      (answered) => answered || pass(request, response),
      () => pass(request, response),
    );
  });
}

// A trusted proxy's headers, which make the framework read another scheme or host than the
// connection's: such requests go to the framework, which knows whether it trusts them.
const FORWARDING = ['x-forwarded-host', 'x-forwarded-proto', 'forwarded'];

/**
 * The request as the framework would describe it to the page cache, read off Node's request;
 * `undefined` when only the framework can say (forwarding headers, a body, not GET or HEAD).
 */
export function describeAtServer(request: IncomingMessage): PageRequest | undefined {
  const { method, headers } = request;
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (FORWARDING.some((name) => headers[name] !== undefined)) return undefined;
  const length = headers['content-length'];
  if ((length !== undefined && Number(length) !== 0) || headers['transfer-encoding'] !== undefined) return undefined;
  const scheme = (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const host = headers.host;
  const target = request.url!;
  return {
    method,
    wireMethod: method,
    scheme,
    host,
    url: `${scheme}://${host ?? ''}${target}`,
    address: pageAddressOf(scheme, host, host, target),
    header: (name) => headerValue(headers[name.toLowerCase()]),
  };
}

/** Writes a stored answer on Node's response, as the adapters' `send` does on theirs. */
export function sendAtServer(
  response: ServerResponse,
  status: number,
  headers: Iterable<readonly [string, string]>,
  body: string | undefined,
): void {
  const raw: string[] = [];
  for (const [name, value] of headers) raw.push(name, value);
  response.writeHead(status, raw);
  if (body === undefined) response.end();
  else response.end(body, 'latin1');
}
