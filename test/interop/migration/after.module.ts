import { Controller, Get, Injectable, Module, Param, Post } from '@nestjs/common';
import { Cache, Cacheable, CacheEvict, CacheModule, CachePage } from '../../../lib/index.js';

@Injectable()
export class RecipesService {
  runs = 0;

  @Cacheable({ key: 'recipe:{0}', timeout: 60 }) // seconds
  async findOne(id: string) {
    return { id, runs: ++this.runs };
  }

  @CacheEvict('recipe:{0}') // after the method succeeds
  async update(id: string) {
    return { updated: id };
  }
}

/** What used to take CACHE_MANAGER: the `Cache` class is the token of the default alias. */
@Injectable()
export class VisitsService {
  constructor(private readonly cache: Cache) {}

  async visit(page: string): Promise<number> {
    await this.cache.add(`visits:${page}`, 0, 3600); // seconds; only when absent
    return this.cache.incr(`visits:${page}`);
  }
}

@Controller('recipes')
export class RecipesController {
  listed = 0;

  constructor(
    private readonly recipes: RecipesService,
    private readonly visits: VisitsService,
  ) {}

  @Get()
  @CachePage(30) // seconds; the key is the URL (Django's cache_page)
  list() {
    return { listed: ++this.listed };
  }

  @Get(':id')
  async findOne(@Param('id') id: string) {
    return { ...(await this.recipes.findOne(id)), visits: await this.visits.visit(id) };
  }

  @Post(':id')
  update(@Param('id') id: string) {
    return this.recipes.update(id);
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', timeout: 5 } })], // seconds
  controllers: [RecipesController],
  providers: [RecipesService, VisitsService],
})
export class AppModule {}
