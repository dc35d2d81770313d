// The server under test for the HTTP WG cache-tests suite: a Nest app that forwards every request
// to the suite's origin server, with this library's page cache in front of the forwarding route.
// Started by run.mjs as a child process (TypeScript through test/support/register-ts.mjs):
//
//   node --import ./test/support/register-ts.mjs test/rfc9111/cache-tests/proxy-app.ts \
//     <express|fastify> <site|decorator> <origin port>
//
// It prints one line of JSON, { url }, once listening, and runs until it is sent SIGTERM.
import 'reflect-metadata';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { All, Controller, Module, Req, Res, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { CacheModule, CachePage } from '../../../lib/index.js';

const [adapterName, form, originPortText] = process.argv.slice(2);
const ORIGIN_PORT = Number(originPortText);
/** The timeout the figures were measured with, for both forms. */
const TIMEOUT_SECONDS = 300;
/** Every path: Express 5's router wants the wildcard named, Fastify's wants it bare. */
const ANY_PATH = adapterName === 'fastify' ? '*' : '*path';

// Fields that describe one connection (RFC 9110 §7.6.1): a proxy does not forward them.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
]);

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Sends the request on to the origin, as a reverse proxy would, and reads the whole answer. */
function forward(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Upstream> {
  const sent: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) sent[name] = value;
  if (body.length > 0) sent['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: '127.0.0.1', port: ORIGIN_PORT, method, path: url, headers: sent },
      (answer: IncomingMessage) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () =>
          resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }),
        );
        answer.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * The request body: a Buffer from Fastify's parser (main() sets it up) when there is one, else
 * what is left on Node's request (all of it under Express, which parses nothing here).
 */
async function bodyOf(request: { body?: unknown }, incoming: IncomingMessage): Promise<Buffer> {
  if (Buffer.isBuffer(request.body)) return request.body;
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface FastifyReplyLike {
  raw: unknown;
  code(status: number): void;
  header(name: string, value: string | string[]): void;
  send(body: Buffer): void;
}
interface ExpressResponseLike {
  status(status: number): void;
  setHeader(name: string, value: string | string[]): void;
  end(body: Buffer): void;
}

/** Writes the origin's answer through the platform's reply, where the page cache captures it. */
function reply(response: FastifyReplyLike | ExpressResponseLike, upstream: Upstream): void {
  const fastify = 'raw' in response ? response : undefined;
  const express = fastify === undefined ? (response as ExpressResponseLike) : undefined;
  fastify?.code(upstream.status);
  express?.status(upstream.status);
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'content-length') continue;
    fastify?.header(name, value);
    express?.setHeader(name, value);
  }
  fastify?.send(upstream.body);
  express?.end(upstream.body);
}

async function proxy(
  request: IncomingMessage & { raw?: IncomingMessage; body?: unknown },
  response: object,
): Promise<void> {
  const incoming = request.raw ?? request;
  const upstream = await forward(incoming.method!, incoming.url!, incoming.headers, await bodyOf(request, incoming));
  reply(response as FastifyReplyLike | ExpressResponseLike, upstream);
}

@Controller()
class SiteProxyController {
  @All(ANY_PATH)
  forward(@Req() request: IncomingMessage, @Res() response: object): Promise<void> {
    return proxy(request, response);
  }
}

@Controller()
class DecoratedProxyController {
  @All(ANY_PATH)
  @CachePage(TIMEOUT_SECONDS)
  forward(@Req() request: IncomingMessage, @Res() response: object): Promise<void> {
    return proxy(request, response);
  }
}

function proxyModule(): DynamicModule {
  // Room for every test's pages: Django's 300 entries would cull at random while the suite runs.
  const caches = {
    default: {
      backend: 'locmem' as const,
      location: 'cache-tests',
      timeout: TIMEOUT_SECONDS,
      options: { maxEntries: 100_000 },
    },
  };
  const controller: Type<unknown> = form === 'site' ? SiteProxyController : DecoratedProxyController;
  @Module({ imports: [CacheModule.forRoot(caches, form === 'site' ? { site: {} } : {})], controllers: [controller] })
  class ProxyModule {}
  return { module: ProxyModule };
}

async function main(): Promise<void> {
  if (!['express', 'fastify'].includes(adapterName!) || !['site', 'decorator'].includes(form!) || !ORIGIN_PORT) {
    throw new Error('usage: proxy-app.ts <express|fastify> <site|decorator> <origin port>');
  }
  // PROXY_LOG=1 shows Nest's log (a handler's error among it), for a run of one test.
  const logger = process.env.PROXY_LOG === '1' ? undefined : false;
  const app =
    adapterName === 'fastify'
      ? await NestFactory.create(proxyModule(), new FastifyAdapter(), { logger, bodyParser: false })
      : await NestFactory.create(proxyModule(), { logger, bodyParser: false });
  if (adapterName === 'fastify') {
    const fastify = app.getHttpAdapter().getInstance() as {
      removeAllContentTypeParsers(): void;
      addContentTypeParser(
        type: string,
        options: { parseAs: 'buffer' },
        parser: (request: unknown, body: Buffer, done: (error: null, body: Buffer) => void) => void,
      ): void;
    };
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  }
  await app.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ url: await app.getUrl() })}\n`);
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
