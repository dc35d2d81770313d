import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Cache } from '../../lib/index.js';

describe('recipes sample', () => {
  const workDirectory = mkdtempSync(join(tmpdir(), 'nestjs-caches-recipes-'));
  let app: INestApplication;

  beforeAll(async () => {
    process.env.SAMPLE_DB_PATH = join(workDirectory, 'recipes.sqlite');
    process.env.CACHE_DIR = join(workDirectory, 'cache');
    // Imported only now: the sample reads its paths from the environment when its module loads.
    const { AppModule } = await import('../../sample/app.module.js');
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    delete process.env.SAMPLE_DB_PATH;
    delete process.env.CACHE_DIR;
    rmSync(workDirectory, { recursive: true, force: true });
  });

  it('lists the seeded recipes from the database first, then from the filesystem cache', async () => {
    const miss = await request(app.getHttpServer()).get('/recipes').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.body).toHaveLength(5);
    for (const recipe of miss.body) {
      expect(recipe).toEqual(expect.objectContaining({ id: expect.any(Number), name: expect.any(String) }));
      expect(recipe.ingredients.length).toBeGreaterThanOrEqual(3);
      expect(recipe.ingredients.length).toBeLessThanOrEqual(6);
    }

    const hit = await request(app.getHttpServer()).get('/recipes').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
  });

  it('serves one recipe with its ingredients, and 404 for an unknown id', async () => {
    const first = await request(app.getHttpServer()).get('/recipes/1').expect(200);
    expect(first.body).toEqual(expect.objectContaining({ id: 1, name: 'Spaghetti carbonara' }));
    expect(first.body.ingredients).toHaveLength(5);
    expect(await app.get(Cache).has('recipe:1')).toBe(true);
    const cached = await request(app.getHttpServer()).get('/recipes/1').expect(200);
    expect(cached.body).toEqual(first.body);

    await request(app.getHttpServer()).get('/recipes/999').expect(404);
    expect(await app.get(Cache).has('recipe:999')).toBe(false);
  });
});
