import type { ServerResponse } from 'node:http';
import { Controller, Get, Param, ParseIntPipe, Res } from '@nestjs/common';
import { CachePage } from '../../lib/index.js';
import type { Recipe } from './recipe.entity.js';
import { RecipesService } from './recipes.service.js';

@Controller('recipes')
export class RecipesController {
  constructor(private readonly recipesService: RecipesService) {}

  /**
   * Low-level caching: says in `X-Low-Level-Cache` whether the list came from the filesystem
   * cache, to watch it work. (`X-Cache` belongs to the page cache, when the per-site one is on.)
   */
  @Get()
  async findAll(@Res({ passthrough: true }) response: ServerResponse): Promise<Recipe[]> {
    const { recipes, cacheHit } = await this.recipesService.findAll();
    response.setHeader('X-Low-Level-Cache', cacheHit ? 'HIT' : 'MISS');
    return recipes;
  }

  /**
   * The per-view cache (Django's `cache_page`): the whole response is kept 60 seconds, so
   * `generatedAt` stays the same and `X-Cache` says HIT until it expires.
   */
  @Get('page')
  @CachePage(60)
  async page(): Promise<{ generatedAt: string; recipes: Recipe[] }> {
    return { generatedAt: new Date().toISOString(), recipes: await this.recipesService.listFromDatabase() };
  }

  @Get(':id')
  findOne(@Param('id', ParseIntPipe) id: number): Promise<Recipe> {
    return this.recipesService.findOne(id);
  }
}
