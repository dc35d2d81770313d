import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Cache } from '../../lib/index.js';

/**
 * Boots the sample on a real port: listening once keeps the `Host` of every request, and so the
 * page cache's keys, the same.
 */
async function startSample(workDirectory: string): Promise<{ app: INestApplication; url: string }> {
  process.env.SAMPLE_DB_PATH = join(workDirectory, 'recipes.sqlite');
  process.env.CACHE_DIR = join(workDirectory, 'cache');
  const { AppModule } = await import('../../sample/app.module.js');
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: await app.getUrl() };
}

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
});
