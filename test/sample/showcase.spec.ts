import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { redisDb } from '../support/addresses.js';
import { startSample } from './start-sample.js';

/** The number of SQL queries a response's `Server-Timing` reports (`db;desc="3 queries"`). */
function queriesOf(response: { headers: Record<string, string> }): number {
  const match = /db;desc="(\d+) quer(?:y|ies)";dur=[\d.]+/.exec(response.headers['server-timing'] ?? '');
  if (match === null) throw new Error(`no db entry in Server-Timing: ${response.headers['server-timing']}`);
  return Number(match[1]);
}

/** What the footer says the rendering request ran. */
function footerOf(html: string): { renderedAt: string; queries: number } {
  const match = /Rendered at (\S+) in [\d.]+ ms,\s*<span id="queries">(\d+) SQL quer/.exec(html);
  if (match === null) throw new Error('no footer in the page');
  return { renderedAt: match[1]!, queries: Number(match[2]) };
}

/** The showcase's HTML pages, on whatever store `CACHE_URL` names (`undefined`: locmem). */
function showcaseSuite(cacheUrl: () => string | undefined): void {
  const workDirectory = mkdtempSync(join(tmpdir(), 'nestjs-caches-showcase-'));
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    const cache = cacheUrl();
    if (cache !== undefined) process.env.CACHE_URL = cache;
    ({ app, url } = await startSample(workDirectory));
  });

  afterAll(async () => {
    await app?.close();
    for (const name of ['CACHE_URL', 'SAMPLE_DB_PATH', 'CACHE_DIR']) delete process.env[name];
    rmSync(workDirectory, { recursive: true, force: true });
  });

  it('the index links every variant and every recipe, and names the default store', async () => {
    const index = await request(url).get('/').expect(200);
    for (const path of ['/pages/uncached', '/pages/per-view', '/pages/fragments', '/pages/low-level']) {
      expect(index.text).toContain(`href="${path}"`);
    }
    expect(index.text).toContain('href="/pages/recipes/5/edit"');
    expect(index.text).toMatch(cacheUrl() === undefined ? /locmem/ : /id="default-cache">(redis|memcached):/);
    expect(index.text).toContain('<strong id="site-cache">off</strong>');
  });

  it('the uncached page queries at every request, and says so in its footer and Server-Timing', async () => {
    for (let i = 0; i < 2; i++) {
      const page = await request(url).get('/pages/uncached').expect(200);
      expect(page.headers['x-cache']).toBeUndefined();
      expect(queriesOf(page)).toBe(1);
      expect(footerOf(page.text).queries).toBe(1);
      // The cache panel's entry last (the sample turns the panel on): this page made no cache call.
      expect(page.headers['server-timing']).toMatch(/app;dur=[\d.]+, cache-panel;desc="[\w-]+"$/);
      expect(page.text).toContain('<h3><a href="/pages/recipes/1">Spaghetti carbonara</a></h3>');
    }
  });

  it('@CachePage: the hit runs no query and is the bytes of the miss, footer included', async () => {
    const miss = await request(url).get('/pages/per-view').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(queriesOf(miss)).toBe(1);
    const hit = await request(url).get('/pages/per-view').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['server-timing']).toMatch(/^cache;desc="HIT";dur=[\d.]+, db;desc="0 queries"/);
    expect(hit.text).toBe(miss.text);
    expect(footerOf(hit.text).queries).toBe(1);
  });

  it('{% cache %}: the page renders each time, the cards (and their query) only once', async () => {
    const first = await request(url).get('/pages/fragments').expect(200);
    const second = await request(url).get('/pages/fragments').expect(200);
    expect(queriesOf(first)).toBe(1);
    expect(queriesOf(second)).toBe(0);
    expect(footerOf(second.text).renderedAt).not.toBe(footerOf(first.text).renderedAt);
    const cards = (html: string) => /<p id="fragment-rendered">[^]*?<\/ul>/.exec(html)?.[0];
    expect(cards(first.text)).toContain('<li class="card">');
    expect(cards(second.text)).toBe(cards(first.text));
  });

  it('the low-level page reads its rows through getOrSet', async () => {
    const miss = await request(url).get('/pages/low-level').expect(200);
    const hit = await request(url).get('/pages/low-level').expect(200);
    expect([miss.headers['x-low-level-cache'], queriesOf(miss)]).toEqual(['MISS', 1]);
    expect([hit.headers['x-low-level-cache'], queriesOf(hit)]).toEqual(['HIT', 0]);
    expect(hit.text).toContain('<strong id="low-level">HIT</strong>');
  });

  it('the edit form saves through TypeORM: every cached view of the recipe is fresh at once, others stay HIT', async () => {
    for (const path of [
      '/pages/per-view',
      '/pages/fragments',
      '/pages/low-level',
      '/pages/recipes/2',
      '/pages/recipes/4',
    ]) {
      await request(url).get(path).expect(200);
    }
    expect((await request(url).get('/pages/recipes/4')).headers['x-cache']).toBe('HIT');
    const form = await request(url).get('/pages/recipes/2/edit').expect(200);
    expect(form.headers['cache-control']).toContain('no-store');
    expect(form.text).toContain('<input name="name" value="Shakshuka" required>');

    const saved = await request(url)
      .post('/pages/recipes/2/edit')
      .type('form')
      .send({ name: 'Shakshuka & feta', description: 'With <crumbled> feta.' })
      .expect(303);
    expect(saved.headers.location).toBe('/pages/recipes/2');
    expect(queriesOf(saved)).toBeGreaterThan(0);

    const detail = await request(url).get('/pages/recipes/2').expect(200);
    expect(detail.headers['x-cache']).toBe('MISS');
    expect(detail.text).toContain('<h1 id="recipe-name">Shakshuka &amp; feta</h1>');
    expect(detail.text).toContain('With &lt;crumbled&gt; feta.');
    const list = await request(url).get('/pages/per-view').expect(200);
    expect(list.headers['x-cache']).toBe('MISS');
    expect(list.text).toContain('Shakshuka &amp; feta');
    const fragments = await request(url).get('/pages/fragments').expect(200);
    expect(queriesOf(fragments)).toBe(1);
    expect(fragments.text).toContain('Shakshuka &amp; feta');
    const lowLevel = await request(url).get('/pages/low-level').expect(200);
    expect(lowLevel.headers['x-low-level-cache']).toBe('MISS');
    expect(lowLevel.text).toContain('Shakshuka &amp; feta');
    expect((await request(url).get('/pages/recipes/4')).headers['x-cache']).toBe('HIT');
  });

  it('refuses an empty name, and changes nothing', async () => {
    const refused = await request(url)
      .post('/pages/recipes/3/edit')
      .type('form')
      .send({ name: '', description: 'Typed, not saved.' })
      .expect(400)
      .expect('Content-Type', /html/);
    expect(refused.text).toContain('Not saved: name must be a non-empty string.');
    expect(refused.text).toContain('Typed, not saved.'); // what was typed stays in the form
    expect((await request(url).get('/pages/recipes/3').expect(200)).text).toContain('>Pancakes</h1>');
    await request(url).get('/pages/recipes/999').expect(404);
  });
}

describe('the showcase on locmem (no CACHE_URL)', () => {
  showcaseSuite(() => undefined);
});

// One key prefix per run: the servers are shared by every test file.
const prefix = `showcase-${randomBytes(4).toString('hex')}`;

describe('the showcase with CACHE_URL=redis://…', () => {
  showcaseSuite(() => {
    if (!process.env.REDIS_URL) throw new Error('REDIS_URL is not set: run the tests with `npm test`.');
    return `${redisDb(13)}?keyPrefix=${prefix}`;
  });
});

describe('the showcase with CACHE_URL=memcached://…', () => {
  showcaseSuite(() => {
    const servers = process.env.MEMCACHED_SERVERS;
    if (!servers) throw new Error('MEMCACHED_SERVERS is not set: run the tests with `npm test`.');
    return `memcached://${servers}?keyPrefix=${prefix}`;
  });
});
