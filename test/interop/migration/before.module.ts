import { CACHE_MANAGER, CacheInterceptor, CacheKey, CacheModule, CacheTTL } from '@nestjs/cache-manager';
import { Controller, Get, Inject, Injectable, Module, Param, Post, UseInterceptors } from '@nestjs/common';
import type { Cache } from 'cache-manager';

@Injectable()
export class RecipesService {
  runs = 0;

  constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}

  async findOne(id: string) {
    const cached = await this.cache.get<{ id: string; runs: number }>(`recipe:${id}`);
    if (cached) return cached;
    const recipe = { id, runs: ++this.runs };
    await this.cache.set(`recipe:${id}`, recipe, 60_000); // milliseconds
    return recipe;
  }

  async update(id: string) {
    await this.cache.del(`recipe:${id}`);
  }
}

@Controller('recipes')
export class RecipesController {
  listed = 0;

  constructor(private readonly recipes: RecipesService) {}

  @Get()
  @UseInterceptors(CacheInterceptor)
  @CacheKey('recipes')
  @CacheTTL(30_000) // milliseconds
  list() {
    return { listed: ++this.listed };
  }

  @Get(':id')
  findOne(@Param('id') id: string) {
    return this.recipes.findOne(id);
  }

  @Post(':id')
  update(@Param('id') id: string) {
    return this.recipes.update(id);
  }
}

@Module({
  imports: [CacheModule.register({ ttl: 5_000 })], // milliseconds
  controllers: [RecipesController],
  providers: [RecipesService],
})
export class AppModule {}
