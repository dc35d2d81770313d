import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NestExpressApplication } from '@nestjs/platform-express';
import nunjucks from 'nunjucks';
import { Caches, registerNunjucksCache } from '../lib/index.js';
import { showsCachePanel } from './app.module.js';
import { RequestTimings } from './timing/request-timing.js';

/**
 * What the sample needs beyond its modules, for `main.ts` and the tests alike: Nunjucks views with
 * the `{% cache %}` tag, and the per-request timing of the footer and `Server-Timing`.
 */
export function configureApp(app: NestExpressApplication): void {
  const environment = nunjucks.configure(viewsDirectory(), {
    autoescape: true,
    express: app.getHttpAdapter().getInstance(),
  });
  registerNunjucksCache(environment, app.get(Caches));
  environment.addGlobal('cachePanel', showsCachePanel());
  // `{% set recipes = loadRecipes | resolve %}`: a view asks for its data only when it renders
  // that part, so a fragment served from the cache runs no query (as Django's lazy querysets).
  environment.addFilter(
    'resolve',
    (value: unknown, done: (error: unknown, result?: unknown) => void) => {
      Promise.resolve()
        .then(() => (typeof value === 'function' ? value() : value))
        .then((result) => done(null, result), done);
    },
    true,
  );
  app.use(app.get(RequestTimings).middleware);
}

/**
 * `sample/views`, whether this file runs from its source (Jest) or compiled to
 * `sample/dist/sample/` (`npm start`): the nearest folder up holding `views/layout.njk`.
 */
function viewsDirectory(): string {
  for (let folder = dirname(fileURLToPath(import.meta.url)); ; folder = dirname(folder)) {
    const views = join(folder, 'views');
    if (existsSync(join(views, 'layout.njk'))) return views;
    if (dirname(folder) === folder) throw new Error('The sample views (views/layout.njk) were not found.');
  }
}
