import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { Cache } from '../../lib/index.js';
import { startSample } from './start-sample.js';

describe('recipes sample', () => {
  const workDirectory = mkdtempSync(join(tmpdir(), 'nestjs-caches-recipes-'));
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startSample(workDirectory));
  });

  afterAll(async () => {
    await app?.close();
    delete process.env.SAMPLE_DB_PATH;
    delete process.env.CACHE_DIR;
    rmSync(workDirectory, { recursive: true, force: true });
  });

  it('lists the seeded recipes from the database first, then from the filesystem cache', async () => {
    const miss = await request(url).get('/recipes').expect(200);
    expect(miss.headers['x-low-level-cache']).toBe('MISS');
    expect(miss.body).toHaveLength(5);
    for (const recipe of miss.body) {
      expect(recipe).toEqual(expect.objectContaining({ id: expect.any(Number), name: expect.any(String) }));
      expect(recipe.ingredients.length).toBeGreaterThanOrEqual(3);
      expect(recipe.ingredients.length).toBeLessThanOrEqual(6);
    }

    const hit = await request(url).get('/recipes').expect(200);
    expect(hit.headers['x-low-level-cache']).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
  });

  it('serves one recipe with its ingredients, and 404 for an unknown id', async () => {
    const first = await request(url).get('/recipes/1').expect(200);
    expect(first.body).toEqual(expect.objectContaining({ id: 1, name: 'Spaghetti carbonara' }));
    expect(first.body.ingredients).toHaveLength(5);
    expect(await app.get(Cache).has('recipe:1')).toBe(true);
    const cached = await request(url).get('/recipes/1').expect(200);
    expect(cached.body).toEqual(first.body);

    await request(url).get('/recipes/999').expect(404);
    expect(await app.get(Cache).has('recipe:999')).toBe(false);
  });

  it('serves /recipes/page from the page cache: the same generatedAt, X-Cache HIT', async () => {
    const miss = await request(url).get('/recipes/page').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.body.recipes).toHaveLength(5);
    const hit = await request(url).get('/recipes/page').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.generatedAt).toBe(miss.body.generatedAt);
    expect((await request(url).get('/recipes/1')).headers['x-cache']).toBeUndefined();
  });

  it('editing a recipe through PATCH shows fresh pages at once; other recipes stay cached', async () => {
    const list = await request(url).get('/recipes/page').expect(200);
    const two = await request(url).get('/recipes/2/page').expect(200);
    const three = await request(url).get('/recipes/3/page').expect(200);
    expect((await request(url).get('/recipes/2/page')).headers['x-cache']).toBe('HIT');

    await request(url).patch('/recipes/2').send({ name: 'Shakshuka with feta' }).expect(200);

    const freshList = await request(url).get('/recipes/page').expect(200);
    expect(freshList.headers['x-cache']).toBe('MISS');
    expect(freshList.body.recipes[1].name).toBe('Shakshuka with feta');
    expect(freshList.body.generatedAt).not.toBe(list.body.generatedAt);
    const freshTwo = await request(url).get('/recipes/2/page').expect(200);
    expect(freshTwo.headers['x-cache']).toBe('MISS');
    expect(freshTwo.body.recipe.name).toBe('Shakshuka with feta');
    expect(freshTwo.body.generatedAt).not.toBe(two.body.generatedAt);
    const stillThree = await request(url).get('/recipes/3/page').expect(200);
    expect(stillThree.headers['x-cache']).toBe('HIT');
    expect(stillThree.body).toEqual(three.body);
  });

  it("changing an ingredient refreshes its recipe's page (@InvalidatesAlso)", async () => {
    const before = await request(url).get('/recipes/3/page').expect(200);
    const flour = before.body.recipe.ingredients[0];
    expect((await request(url).get('/recipes/3/page')).headers['x-cache']).toBe('HIT');
    await request(url).patch(`/recipes/3/ingredients/${flour.id}`).send({ quantity: '250 g' }).expect(200);
    const after = await request(url).get('/recipes/3/page').expect(200);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.body.recipe.ingredients[0].quantity).toBe('250 g');
  });

  it('a recipe created through POST is on the list page at once', async () => {
    await request(url).get('/recipes/page').expect(200);
    expect((await request(url).get('/recipes/page')).headers['x-cache']).toBe('HIT');
    const created = await request(url)
      .post('/recipes')
      .send({ name: 'Porridge', description: 'Oats and milk.', ingredients: [{ name: 'oats', quantity: '80 g' }] })
      .expect(201);
    expect(created.body.ingredients).toHaveLength(1);
    const list = await request(url).get('/recipes/page').expect(200);
    expect(list.headers['x-cache']).toBe('MISS');
    expect(list.body.recipes.map((recipe: { name: string }) => recipe.name)).toContain('Porridge');
    expect((await request(url).get('/recipes')).body).toHaveLength(6);
    await request(url).post('/recipes').send({ name: '' }).expect(400);
  });
});

describe('recipes sample with SITE_CACHE=1', () => {
  const workDirectory = mkdtempSync(join(tmpdir(), 'nestjs-caches-recipes-site-'));
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    process.env.SITE_CACHE = '1';
    ({ app, url } = await startSample(workDirectory));
  });

  afterAll(async () => {
    await app?.close();
    for (const name of ['SITE_CACHE', 'SAMPLE_DB_PATH', 'CACHE_DIR']) delete process.env[name];
    rmSync(workDirectory, { recursive: true, force: true });
  });

  it('page-caches every GET route', async () => {
    const miss = await request(url).get('/recipes/2').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['cache-control']).toBe('max-age=30');
    const hit = await request(url).get('/recipes/2').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
  });

  it('page-caches the showcase’s HTML pages too; a route’s own @CachePage and @NeverCache win', async () => {
    const index = await request(url).get('/').expect(200);
    expect(index.text).toContain('<strong id="site-cache">on</strong>');
    expect(index.headers['x-cache']).toBe('MISS');
    expect((await request(url).get('/').expect(200)).headers['x-cache']).toBe('HIT');
    await request(url).get('/pages/uncached').expect(200);
    const uncached = await request(url).get('/pages/uncached').expect(200);
    expect(uncached.headers['x-cache']).toBe('HIT');
    expect(uncached.headers['cache-control']).toBe('max-age=30');

    const form = await request(url).get('/pages/recipes/3/edit').expect(200);
    expect(form.headers['x-cache']).toBeUndefined();
    expect(form.headers['cache-control']).toContain('no-store');
    // The detail page keeps its own 60 s and its dependsOn: an edit shows at once.
    await request(url).get('/pages/recipes/3').expect(200);
    const cached = await request(url).get('/pages/recipes/3').expect(200);
    expect([cached.headers['x-cache'], cached.headers['cache-control']]).toEqual(['HIT', 'max-age=60']);
    await request(url)
      .post('/pages/recipes/3/edit')
      .type('form')
      .send({ name: 'Edited', description: 'x' })
      .expect(303);
    const fresh = await request(url).get('/pages/recipes/3').expect(200);
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(fresh.text).toContain('<h1 id="recipe-name">Edited</h1>');
  });
});
