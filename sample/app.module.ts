import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module, type OnApplicationBootstrap } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CacheModule, Caches } from '../lib/index.js';
import { RecipesModule } from './recipes/recipes.module.js';
import { RecipeSeeder } from './seed.js';
import { RequestTimings } from './timing/request-timing.js';

// Read at boot: relative to the package root, where `npm start` runs; the e2e test points both elsewhere.
const databasePath = () => process.env.SAMPLE_DB_PATH ?? join('sample', 'data', 'recipes.sqlite');
const cacheDirectory = () => process.env.CACHE_DIR ?? join(tmpdir(), 'nestjs-caches-sample');

/** The cache panel, as Django's debug toolbar: in development only (the module refuses it in production). */
export const showsCachePanel = () => process.env.NODE_ENV !== 'production';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      useFactory: () => ({
        type: 'better-sqlite3',
        database: databasePath(), // TypeORM creates the missing folder
        autoLoadEntities: true,
        synchronize: true,
      }),
    }),
    CacheModule.forRootAsync({
      useFactory: () => ({
        caches: {
          // CACHE_URL=redis://127.0.0.1:6379/0 or memcached://127.0.0.1:11211: a shared store instead.
          default: process.env.CACHE_URL || { backend: 'locmem', location: 'sample' },
          filesystem: { backend: 'filesystem', location: cacheDirectory(), timeout: 60 },
        },
        // SITE_CACHE=1 turns on the per-site cache: every GET route is page-cached for 30 seconds.
        site: process.env.SITE_CACHE === '1' ? { timeout: 30 } : undefined,
        // Every page lists its cache calls (bottom right); also as JSON at the X-Cache-Panel header's path.
        panel: showsCachePanel(),
      }),
    }),
    RecipesModule,
  ],
  providers: [RecipeSeeder, RequestTimings],
})
export class AppModule implements OnApplicationBootstrap {
  constructor(private readonly caches: Caches) {}

  // Unlike locmem, the filesystem cache outlives the process: what it holds may come from a
  // database that was since deleted and seeded again. Start empty, so the first request is a
  // MISS that reads the current rows.
  async onApplicationBootstrap(): Promise<void> {
    await this.caches.get('filesystem').clear();
  }
}
