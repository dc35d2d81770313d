import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';

/**
 * Boots the sample as `npm start` does (its module, then `configureApp`), with its SQLite file and
 * filesystem cache in `workDirectory`, on a real port: listening once keeps the `Host` of every
 * request, and so the page cache's keys, the same.
 */
export async function startSample(workDirectory: string): Promise<{ app: NestExpressApplication; url: string }> {
  process.env.SAMPLE_DB_PATH = join(workDirectory, 'recipes.sqlite');
  process.env.CACHE_DIR = join(workDirectory, 'cache');
  const { AppModule } = await import('../../sample/app.module.js');
  const { configureApp } = await import('../../sample/configure-app.js');
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  return { app, url: await app.getUrl() };
}
