import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, Param, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  Cache,
  Cacheable,
  CacheConfigError,
  CacheModule,
  CachePage,
  FragmentCache,
  type CacheModuleOptions,
  type PanelRequest,
} from '../../lib/index.js';
import { ADAPTERS, startApp } from '../http/app/http-app.js';

@Injectable()
class RecipesService {
  @Cacheable({ key: 'recipe:{0}' })
  async findOne(id: string) {
    return { id };
  }
}

@Controller('panel-app')
class PanelController {
  constructor(
    private readonly cache: Cache,
    private readonly recipes: RecipesService,
    private readonly fragments: FragmentCache,
  ) {}

  @Get('fragment/:name')
  async fragment(@Param('name') name: string) {
    return { html: await this.fragments.render('sidebar', [name], 60, () => `<aside>${name}</aside>`) };
  }

  @Get('low/:name')
  async low(@Param('name') name: string) {
    const visits = await this.cache.get<number>(`visits:${name}`, 0);
    await this.cache.set(`visits:${name}`, visits + 1);
    await this.cache.get(`visits:${name}`);
    return { visits };
  }

  @Get('page/:id')
  @CachePage(60)
  page(@Param('id') id: string) {
    return this.recipes.findOne(id);
  }
}

function panelModule(options: CacheModuleOptions) {
  @Module({
    imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `panel-${Math.random()}` } }, options)],
    controllers: [PanelController],
    providers: [RecipesService],
  })
  class PanelModule {}
  return PanelModule;
}

describe.each(ADAPTERS)('the cache panel on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, panelModule({ panel: true })));
  });

  afterAll(async () => {
    await app?.close();
  });

  const panelOf = async (path: string): Promise<PanelRequest> =>
    (await request(url).get(path).expect(200).expect('content-type', /json/)).body as PanelRequest;

  it("lists a request's low-level calls at the path its X-Cache-Panel header names", async () => {
    const response = await request(url).get('/panel-app/low/ada').expect(200);
    const path = response.headers['x-cache-panel'] as string;
    expect(path).toMatch(/^\/__cache_panel\/[\w-]{36}$/);
    const panel = await panelOf(path);
    expect(panel).toMatchObject({ method: 'GET', url: '/panel-app/low/ada', dropped: 0 });
    expect(panel.calls.map(({ alias, operation, key, hit, origin }) => [alias, operation, key, hit, origin])).toEqual([
      ['default', 'get', 'visits:ada', false, 'low-level'],
      ['default', 'set', 'visits:ada', undefined, 'low-level'],
      ['default', 'get', 'visits:ada', true, 'low-level'],
    ]);
    for (const call of panel.calls) {
      expect(call.durationMs).toBeGreaterThanOrEqual(0);
      expect(call.atMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('adds per-alias totals to Server-Timing, with the id the panel script reads', async () => {
    const response = await request(url).get('/panel-app/low/grace').expect(200);
    const id = (response.headers['x-cache-panel'] as string).split('/').pop();
    expect(response.headers['server-timing']).toMatch(
      new RegExp(`cache-default;desc="3 calls, 1 hit";dur=\\d+\\.\\d{2}, cache-panel;desc="${id}"`),
    );
  });

  it("names the decorator behind each call of a page, and keeps each request's calls apart", async () => {
    const [one, two] = await Promise.all([
      request(url).get('/panel-app/page/1').expect('x-cache', 'MISS'),
      request(url).get('/panel-app/page/2').expect('x-cache', 'MISS'),
    ]);
    for (const [response, id] of [
      [one, '1'],
      [two, '2'],
    ] as const) {
      const panel = await panelOf(response.headers['x-cache-panel'] as string);
      const origins = new Set(panel.calls.map((call) => call.origin));
      expect(origins).toEqual(new Set(['@CachePage', '@Cacheable RecipesService.findOne']));
      const methodKeys = panel.calls.filter((call) => call.origin.startsWith('@Cacheable')).map((call) => call.key);
      expect(new Set(methodKeys)).toEqual(new Set([`recipe:${id}`]));
      // The page's lookup missed; its store went out as the response left.
      const page = panel.calls.filter((call) => call.origin === '@CachePage');
      expect(page[0]).toMatchObject({ operation: 'get', hit: false });
      expect(page.some((call) => call.operation === 'set')).toBe(true);
    }
    const hit = await request(url).get('/panel-app/page/1').expect('x-cache', 'HIT');
    const panel = await panelOf(hit.headers['x-cache-panel'] as string);
    // A hit reads the URL's Vary list, then the page: the method does not run.
    expect(panel.calls.map((call) => [call.origin, call.operation, call.hit])).toEqual([
      ['@CachePage', 'get', true],
      ['@CachePage', 'get', true],
    ]);
    expect(panel.calls.at(-1)).toMatchObject({ operation: 'get', hit: true });
    expect(hit.headers['server-timing']).toMatch(/cache;desc="HIT";dur=[\d.]+/);
    expect(hit.headers['server-timing']).toMatch(/cache-default;desc="2 calls, 2 hits";dur=[\d.]+/);
  });

  it('names the {% cache %} fragment behind its calls', async () => {
    const miss = await request(url).get('/panel-app/fragment/ada').expect(200);
    const missed = await panelOf(miss.headers['x-cache-panel'] as string);
    expect(new Set(missed.calls.map((call) => call.origin))).toEqual(new Set(['{% cache sidebar %}']));
    expect(missed.calls[0]).toMatchObject({ operation: 'get', hit: false });
    const hit = await request(url).get('/panel-app/fragment/ada').expect(200);
    const hits = await panelOf(hit.headers['x-cache-panel'] as string);
    expect(hits.calls.map((call) => [call.origin, call.operation, call.hit])).toEqual([
      ['{% cache sidebar %}', 'get', true],
    ]);
  });

  it('lists recent requests, newest first, keeping at most 100', async () => {
    for (let i = 0; i < 105; i++) await request(url).get(`/panel-app/low/n${i}`).expect(200);
    const recent = (await request(url).get('/__cache_panel').expect(200)).body as Array<{ url: string }>;
    expect(recent).toHaveLength(100);
    expect(recent[0]!.url).toBe('/panel-app/low/n104');
    await request(url).get('/__cache_panel/not-an-id').expect(404);
  });

  it('serves the script that shows the panel on a page', async () => {
    const script = await request(url)
      .get('/__cache_panel/panel.js')
      .expect(200)
      .expect('content-type', /javascript/);
    expect(script.text).toContain("e.name === 'cache-panel'");
  });
});

describe('the cache panel option', () => {
  const boot = async (options: CacheModuleOptions) => {
    const moduleRef = await Test.createTestingModule({ imports: [panelModule(options)] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  };

  it('is off by default: no header, no route', async () => {
    const { app, url } = await startApp('express', panelModule({}));
    try {
      const response = await request(url).get('/panel-app/low/x').expect(200);
      expect(response.headers['x-cache-panel']).toBeUndefined();
      expect(response.headers['server-timing']).toBeUndefined();
      await request(url).get('/__cache_panel').expect(404);
    } finally {
      await app.close();
    }
  });

  it('is refused under NODE_ENV=production unless forced, saying how', async () => {
    const environment = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      const refused = boot({ panel: true });
      await expect(refused).rejects.toThrow(CacheConfigError);
      await expect(boot({ panel: true })).rejects.toThrow(/NODE_ENV=production.*panel: \{ force: true \}/);
      const forced = await boot({ panel: { force: true } });
      await forced.close();
    } finally {
      process.env.NODE_ENV = environment;
    }
  });

  it('names a wrong field', async () => {
    await expect(boot({ panel: { paht: '/x' } as never })).rejects.toThrow(
      'panel: unknown field paht; known: path, force.',
    );
    await expect(boot({ panel: { path: 'no-slash' } })).rejects.toThrow(
      "panel.path must be a URL path such as '/__cache_panel'",
    );
  });
});
