import type { IncomingMessage } from 'node:http';

const WIRE_METHOD = Symbol('nestjs-caches:wire-method');
const RECORDING = Symbol('nestjs-caches:records-wire-methods');

interface RequestEvents {
  prependListener(event: 'request', listener: (request: IncomingMessage) => void): unknown;
  [RECORDING]?: true;
}

/**
 * Notes each request's method as Node parsed it when it is neither GET nor HEAD, before the
 * framework or any middleware runs: a method-override middleware rewrites `req.method` (on
 * Fastify, after routing), and no framework keeps the original. GET and HEAD are left alone (a
 * rewrite between them changes no page), so a page hit pays nothing. Once per server, however
 * many apps share it.
 */
export function recordWireMethods(server: unknown): void {
  const events = server as RequestEvents | null | undefined;
  if (typeof events?.prependListener !== 'function' || events[RECORDING]) return;
  events[RECORDING] = true;
  events.prependListener('request', (request) => {
    const { method } = request;
    if (method !== 'GET' && method !== 'HEAD') {
      (request as IncomingMessage & { [WIRE_METHOD]?: string })[WIRE_METHOD] = method;
    }
  });
}

/**
 * The method the request came with: as noted, else what a method-override middleware kept
 * (`req.originalMethod`, Express's convention), else the method as it is now.
 */
export function wireMethodOf(request: IncomingMessage): string {
  const noted = request as IncomingMessage & { [WIRE_METHOD]?: string; originalMethod?: string };
  return noted[WIRE_METHOD] ?? noted.originalMethod ?? request.method!;
}
