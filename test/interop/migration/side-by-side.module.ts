import { CACHE_MANAGER, CacheModule as CacheManagerModule } from '@nestjs/cache-manager';
import { Controller, Get, Inject, Injectable, Module, Param } from '@nestjs/common';
import type { Cache as CacheManager } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheModule, Caches, toKeyvStore } from '../../../lib/index.js';

/** Old code, not migrated yet: it keeps its CACHE_MANAGER calls. */
@Injectable()
export class RecipesService {
  runs = 0;

  constructor(@Inject(CACHE_MANAGER) private readonly cache: CacheManager) {}

  async findOne(id: string) {
    const cached = await this.cache.get<{ id: string; runs: number }>(`recipe:${id}`);
    if (cached) return cached;
    const recipe = { id, runs: ++this.runs };
    await this.cache.set(`recipe:${id}`, recipe, 60_000); // milliseconds
    return recipe;
  }
}

@Controller('recipes')
export class RecipesController {
  constructor(private readonly recipes: RecipesService) {}

  @Get(':id')
  findOne(@Param('id') id: string) {
    return this.recipes.findOne(id);
  }
}

@Module({
  imports: [
    CacheModule.forRoot({ default: process.env.CACHE_URL ?? 'redis://127.0.0.1:6379/0' }),
    // The old CACHE_MANAGER, now over the same redis connection, in Keyv's 'keyv' namespace.
    CacheManagerModule.registerAsync({
      inject: [Caches],
      useFactory: (caches: Caches) => ({ stores: [new Keyv({ store: toKeyvStore(caches.default) })], ttl: 5_000 }),
    }),
  ],
  controllers: [RecipesController],
  providers: [RecipesService],
})
export class AppModule {}
