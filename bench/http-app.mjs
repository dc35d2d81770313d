// The server side of `npm run bench -- http`: one small Nest app, started by bench/http.bench.mjs
// as `taskset -c 0 node bench/http-app.mjs <express|fastify> <routes|site>` with an IPC channel.
//   routes: /constant, /page (uncached), /page-interceptor (@nestjs/cache-manager) and
//           /page-cached (@CachePage), all in one app, as an app mixing them would be; and
//           /private and /private-cached, the same 5 ms page answering Cache-Control: private,
//           without and with @CachePage (traffic the page cache must leave alone).
//   site:   /page only, served through the per-site cache (CacheModule.forRoot(..., { site })).
//   routes-mw, site-mw: the same apps with one global middleware (app.use) that does nothing.
//   raw:    no Nest: node:http writing the serialized object, the most any adapter could do with
//           the same bytes (and a check that the load generator is not what limits the rows).
// It sends { ready, port, features } once listening and answers { counts } with how many times
// each handler ran, so the bench can count handler runs without a route of its own (under the
// per-site cache such a route would itself be cached).
import 'reflect-metadata';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheInterceptor, CacheModule as NestCacheModule, CacheTTL } from '@nestjs/cache-manager';
import { Controller, Get, Module, Res, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as caches from '../dist/index.js';

const [adapterName, mode] = process.argv.slice(2);
const TIMEOUT_SECONDS = 60;
const WORK_MS = 5;

/** A nested document whose JSON is ~10 kB, returned by every route. */
const DOCUMENT = Object.freeze({
  id: 42,
  slug: 'article-42',
  title: 'Article number 42, with a title of ordinary length',
  publishedAt: new Date(1_700_000_000_000).toISOString(),
  author: { id: 7, name: 'Author 7', email: 'author7@example.com', roles: ['editor', 'writer'] },
  tags: Array.from({ length: 8 }, (_, t) => `tag-${t}`),
  sections: Array.from({ length: 30 }, (_, s) => ({
    heading: `Section ${s}`,
    body: 'Paragraph of article 42: '.padEnd(220, 'lorem ipsum dolor sit amet '),
    stats: { views: 42 * 31 + s, likes: (42 + s) % 97, ratio: s / 30 },
  })),
  related: Array.from({ length: 20 }, (_, r) => (42 + r * 7) % 1000),
});

const counts = { constant: 0, page: 0, pageInterceptor: 0, pageCached: 0, private: 0, privateCached: 0 };

/** The 5 ms a real page would spend on queries and rendering, off the CPU. */
async function renderPage(counter) {
  counts[counter]++;
  await sleep(WORK_MS);
  return DOCUMENT;
}

/** Applies method decorators as TypeScript would (this file is plain JavaScript). */
function decorate(target, method, ...decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method);
  Object.defineProperty(target.prototype, method, Reflect.decorate(decorators, target.prototype, method, descriptor));
}

function routesModule() {
  class RoutesController {
    constant() {
      counts.constant++;
      return DOCUMENT;
    }
    page() {
      return renderPage('page');
    }
    pageInterceptor() {
      return renderPage('pageInterceptor');
    }
    pageCached() {
      return renderPage('pageCached');
    }
    private(reply) {
      reply.header('cache-control', 'private');
      return renderPage('private');
    }
    privateCached(reply) {
      reply.header('cache-control', 'private');
      return renderPage('privateCached');
    }
  }
  decorate(RoutesController, 'constant', Get('constant'));
  decorate(RoutesController, 'page', Get('page'));
  // cache-manager's TTL is in milliseconds: the same 60 s as @CachePage(60).
  decorate(
    RoutesController,
    'pageInterceptor',
    Get('page-interceptor'),
    UseInterceptors(CacheInterceptor),
    CacheTTL(TIMEOUT_SECONDS * 1000),
  );
  // Both adapters' replies have header(name, value).
  const reply = Res({ passthrough: true });
  decorate(RoutesController, 'private', Get('private'), (target, key) => reply(target, key, 0));
  if (caches.CachePage) {
    decorate(RoutesController, 'pageCached', Get('page-cached'), caches.CachePage(TIMEOUT_SECONDS));
    decorate(
      RoutesController,
      'privateCached',
      Get('private-cached'),
      caches.CachePage(TIMEOUT_SECONDS),
      (target, key) => reply(target, key, 0),
    );
  }
  Controller()(RoutesController);

  class RoutesModule {}
  Module({
    imports: [NestCacheModule.register(), caches.CacheModule.forRoot({ default: { backend: 'locmem' } })],
    controllers: [RoutesController],
  })(RoutesModule);
  return RoutesModule;
}

function siteModule() {
  class SiteController {
    page() {
      return renderPage('page');
    }
  }
  decorate(SiteController, 'page', Get('page'));
  Controller()(SiteController);

  class SiteModule {}
  Module({
    imports: [caches.CacheModule.forRoot({ default: { backend: 'locmem' } }, { site: { timeout: TIMEOUT_SECONDS } })],
    controllers: [SiteController],
  })(SiteModule);
  return SiteModule;
}

/** Stands in for a Nest app: listen, getHttpServer and close are all the rest of this file uses. */
function rawApp() {
  const body = Buffer.from(JSON.stringify(DOCUMENT));
  const server = createServer((request, response) => {
    counts.constant++;
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    response.end(body);
  });
  return {
    listen: (port, host) => new Promise((resolve) => server.listen(port, host, resolve)),
    getHttpServer: () => server,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function createApp() {
  if (mode === 'raw') return rawApp();
  const module = mode.startsWith('site') ? siteModule() : routesModule();
  const app = await createNestApp(module);
  // What an app with, say, a request logger pays: one global middleware that does nothing.
  if (mode.endsWith('-mw')) app.use((_request, _response, next) => next());
  return app;
}

async function createNestApp(module) {
  if (adapterName === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    return NestFactory.create(module, new FastifyAdapter(), { logger: false });
  }
  if (adapterName === 'express') return NestFactory.create(module, { logger: false });
  throw new Error(`Unknown adapter '${adapterName}': expected express or fastify.`);
}

const app = await createApp();
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address();
process.send({ ready: true, port, features: { cachePage: typeof caches.CachePage === 'function' } });
process.on('message', (message) => {
  if (message === 'counts') process.send({ counts });
  if (message === 'close') void app.close().then(() => process.disconnect());
});
