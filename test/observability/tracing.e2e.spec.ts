import 'reflect-metadata';
import { execFile } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, Param, type INestApplication } from '@nestjs/common';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  CacheBackendError,
  Cacheable,
  CacheModule,
  CachePage,
  Caches,
  FragmentCache,
  MISS,
  type CacheModuleOptions,
} from '../../lib/index.js';
import { ADAPTERS, startApp } from '../http/app/http-app.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

/** Registers the in-memory exporter's provider and an AsyncLocalStorage context, as the Node SDK does. */
function registerTracing(): void {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

function unregisterTracing(): void {
  trace.disable();
  context.disable();
}

const spans = (name?: string) => exporter.getFinishedSpans().filter((span) => name === undefined || span.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

@Injectable()
class RecipesService {
  runs = 0;

  @Cacheable({ key: 'recipe:{0}' })
  async findOne(id: string) {
    this.runs++;
    return { id, name: `recipe ${id}` };
  }
}

@Controller('traced')
class TracedController {
  constructor(private readonly recipes: RecipesService) {}

  @Get(':id')
  @CachePage(60)
  async page(@Param('id') id: string) {
    return this.recipes.findOne(id);
  }
}

/**
 * A networked store whose client is instrumented, as ioredis is by @opentelemetry/instrumentation-ioredis:
 * each command starts a span of its own under the active context. Fails on keys holding `down:`.
 */
class InstrumentedStore {
  private readonly data = new Map<string, unknown>();
  private readonly client = trace.getTracer('instrumented-client');

  private command<T>(name: string, key: string, run: () => T): Promise<T> {
    return this.client.startActiveSpan(`client ${name}`, async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      span.end();
      if (key.includes('down:')) throw new Error('connection reset');
      return run();
    });
  }

  get(key: string) {
    return this.command('get', key, () => (this.data.has(key) ? this.data.get(key) : MISS));
  }
  set(key: string, value: unknown) {
    return this.command('set', key, () => void this.data.set(key, value));
  }
  add(key: string, value: unknown) {
    return this.command('add', key, () => !this.data.has(key) && (this.data.set(key, value), true));
  }
  delete(key: string) {
    return this.command('del', key, () => this.data.delete(key));
  }
  touch(key: string) {
    return this.command('touch', key, () => this.data.has(key));
  }
  clear() {
    return this.command('flush', '', () => this.data.clear());
  }
}

async function bootContext(options: CacheModuleOptions = {}, backend: 'locmem' | typeof InstrumentedStore = 'locmem') {
  @Module({
    imports: [
      CacheModule.forRoot(
        { default: backend === 'locmem' ? { backend, location: `tracing-${Math.random()}` } : { backend } },
        options,
      ),
    ],
    providers: [RecipesService],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  return moduleRef.createNestApplication({ logger: false }).init();
}

describe('OpenTelemetry spans', () => {
  let app: INestApplication;

  beforeAll(registerTracing);
  afterAll(unregisterTracing);
  afterEach(async () => {
    await app?.close();
    exporter.reset();
  });

  it('are recorded for low-level calls, with alias, operation, backend and hit, and no key', async () => {
    app = await bootContext();
    const cache = app.get(Caches).default;
    await cache.get('user:7');
    await cache.set('user:7', { name: 'Ada' });
    await cache.get('user:7');
    expect(spans().map((span) => [span.name, span.attributes['cache.hit']])).toEqual([
      ['cache.get', false],
      ['cache.set', undefined],
      ['cache.get', true],
    ]);
    const [miss] = spans();
    expect(miss!.attributes).toEqual({
      'cache.alias': 'default',
      'cache.operation': 'get',
      'cache.backend': 'locmem',
      'cache.hit': false,
    });
    expect(miss!.kind).toBe(SpanKind.INTERNAL);
    expect(miss!.instrumentationScope.name).toBe('nestjs-caches');
  });

  it('record keys only when tracing.recordKeys asks', async () => {
    app = await bootContext({ tracing: { recordKeys: true } });
    await app.get(Caches).default.get('user:7');
    expect(spans('cache.get')[0]!.attributes['cache.key']).toBe('user:7');
  });

  it('mark a failed command as an error', async () => {
    app = await bootContext();
    await expect(app.get(Caches).default.incr('absent')).rejects.toThrow("Key 'absent' not found");
    // A missing key is an answer, not a failure of the store: the span is fine, and a miss.
    expect(spans('cache.incr')[0]!.attributes['cache.hit']).toBe(false);
  });

  it("hold the spans of an instrumented client (ioredis, memjs) and mark a backend's failure", async () => {
    app = await bootContext({}, InstrumentedStore);
    const cache = app.get(Caches).default;
    await cache.get('k');
    const get = spans('cache.get')[0]!;
    expect(get.attributes['cache.backend']).toBe('InstrumentedStore');
    expect(parentOf(spans('client get')[0]!)).toBe(get.spanContext().spanId);

    await expect(cache.get('down:k')).rejects.toThrow(CacheBackendError);
    const failed = spans('cache.get')[1]!;
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'connection reset' });
    expect(failed.events.map((event) => event.name)).toEqual(['exception']);
  });

  it('give getOrSet a span of its own, parent of its commands: a miss, then a hit', async () => {
    app = await bootContext();
    const cache = app.get(Caches).default;
    await cache.getOrSet('answer', () => 42);
    await cache.getOrSet('answer', () => 43);
    const [miss, hit] = spans('cache.getOrSet');
    expect(miss!.attributes['cache.hit']).toBe(false);
    expect(hit!.attributes['cache.hit']).toBe(true);
    const children = spans().filter((span) => parentOf(span) === miss!.spanContext().spanId);
    expect(children.map((span) => span.name)).toEqual(['cache.get', 'cache.add', 'cache.get']);
  });

  it('nest under the active span (an HTTP server span, here made with the API)', async () => {
    app = await bootContext();
    const cache = app.get(Caches).default;
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('GET /recipes', async (parent) => {
      await cache.get('k');
      parent.end();
    });
    const parent = spans('GET /recipes')[0]!;
    expect(parentOf(spans('cache.get')[0]!)).toBe(parent.spanContext().spanId);
  });

  it('give a @Cacheable method a cache.method span: a miss that ran it, then a hit', async () => {
    app = await bootContext();
    const service = app.get(RecipesService);
    await service.findOne('1');
    await service.findOne('1');
    expect(service.runs).toBe(1);
    const [miss, hit] = spans('cache.method');
    expect(miss!.attributes).toMatchObject({
      'cache.alias': 'default',
      'cache.operation': 'method',
      'cache.backend': 'locmem',
      'cache.hit': false,
      'cache.decorator': '@Cacheable',
      'code.namespace': 'RecipesService',
      'code.function': 'findOne',
    });
    expect(hit!.attributes['cache.hit']).toBe(true);
    const underHit = spans().filter((span) => parentOf(span) === hit!.spanContext().spanId);
    expect(underHit.map((span) => span.name)).toEqual(['cache.get']);
    const underMiss = spans().filter((span) => parentOf(span) === miss!.spanContext().spanId);
    expect(underMiss.map((span) => span.name)).toEqual(['cache.get', 'cache.getOrSet']);
  });

  it('give a fragment a cache.fragment span: a miss that rendered it, then a hit', async () => {
    app = await bootContext();
    const fragments = app.get(FragmentCache);
    let renders = 0;
    const render = () => `<aside>${++renders}</aside>`;
    expect(await fragments.render('sidebar', ['u1'], 60, render)).toBe('<aside>1</aside>');
    expect(await fragments.render('sidebar', ['u1'], 60, render)).toBe('<aside>1</aside>');
    const [miss, hit] = spans('cache.fragment');
    expect(miss!.attributes).toMatchObject({
      'cache.alias': 'default',
      'cache.operation': 'fragment',
      'cache.fragment': 'sidebar',
      'cache.hit': false,
    });
    expect(hit!.attributes['cache.hit']).toBe(true);
    const underHit = spans().filter((span) => parentOf(span) === hit!.spanContext().spanId);
    expect(underHit.map((span) => span.name)).toEqual(['cache.getOrSet']);
  });

  it('start nothing when no tracer provider is registered', async () => {
    unregisterTracing();
    try {
      app = await bootContext();
      await app.get(Caches).default.get('k');
      await app.get(RecipesService).findOne('2');
      expect(spans()).toEqual([]);
    } finally {
      registerTracing();
    }
  });

  it('start nothing with tracing: false', async () => {
    app = await bootContext({ tracing: false });
    await app.get(Caches).default.get('k');
    expect(spans()).toEqual([]);
  });
});

describe('without @opentelemetry/api installed', () => {
  it('boots and caches as before, and an explicit tracing option says what to install', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        './test/support/register-ts.mjs',
        '--import',
        './test/observability/hide-opentelemetry.mjs',
        'test/observability/without-opentelemetry.worker.ts',
      ],
      { cwd: process.cwd() },
    );
    expect(stdout).toContain('without tracing options: booted, 1 1 1');
    expect(stdout).toMatch(
      /with tracing: CacheConfigError: CacheModule sets tracing, which needs @opentelemetry\/api: npm install @opentelemetry\/api$/m,
    );
  }, 30_000);
});

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'tracing-pages' } })],
  controllers: [TracedController],
  providers: [RecipesService],
})
class PagesModule {}

/** What @opentelemetry/instrumentation-http does: each request is handled inside its server span. */
function serveInSpans(app: INestApplication): void {
  const server = app.getHttpServer() as { emit: (event: string, ...args: unknown[]) => boolean };
  const emit = server.emit.bind(server);
  const tracer = trace.getTracer('http-server');
  server.emit = (event, ...args) => {
    if (event !== 'request') return emit(event, ...args);
    const [req, res] = args as [IncomingMessage, ServerResponse];
    const span = tracer.startSpan(`${req.method} ${req.url}`, { kind: SpanKind.SERVER });
    res.once('finish', () => span.end());
    return context.with(trace.setSpan(context.active(), span), () => emit(event, ...args));
  };
}

describe.each(ADAPTERS)('page spans on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    registerTracing();
    ({ app, url } = await startApp(adapter, PagesModule));
    serveInSpans(app);
  });

  afterAll(async () => {
    await app?.close();
    unregisterTracing();
    exporter.reset();
  });

  it('say MISS then HIT, nest under the HTTP server span, and hold the method span of a miss', async () => {
    await request(url).get('/traced/5').expect(200).expect('x-cache', 'MISS');
    await request(url).get('/traced/5').expect(200).expect('x-cache', 'HIT');
    await new Promise((resolve) => setTimeout(resolve, 50)); // the server spans end on 'finish'
    const pages = spans('cache.page');
    const [miss] = pages;
    const hit = pages.at(-1)!;
    expect(miss!.attributes).toMatchObject({
      'cache.alias': 'default',
      'cache.operation': 'page',
      'cache.backend': 'locmem',
      'cache.outcome': 'MISS',
      'cache.hit': false,
    });
    expect(hit.attributes).toMatchObject({ 'cache.outcome': 'HIT', 'cache.hit': true });
    const servers = spans().filter((span) => span.kind === SpanKind.SERVER);
    expect(servers).toHaveLength(2);
    expect(parentOf(miss!)).toBe(servers[0]!.spanContext().spanId);
    expect(parentOf(hit)).toBe(servers[1]!.spanContext().spanId);
    // The handler of the miss ran under the page's span: its method span is a child.
    const method = spans('cache.method')[0]!;
    expect(parentOf(method)).toBe(miss!.spanContext().spanId);
    // The hit's lookup: commands under the hit's span, and no method ran.
    const underHit = spans().filter((span) => parentOf(span) === hit.spanContext().spanId);
    expect(underHit.map((span) => span.name)).toContain('cache.get');
    expect(spans('cache.method')).toHaveLength(1);
  });
});
