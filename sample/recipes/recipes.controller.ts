import type { ServerResponse } from 'node:http';
import { Body, Controller, Get, Param, ParseIntPipe, Patch, Post, Res } from '@nestjs/common';
import type { DeepPartial } from 'typeorm';
import { CachePage } from '../../lib/index.js';
import { Recipe } from './recipe.entity.js';
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
   * `generatedAt` stays the same and `X-Cache` says HIT until it expires, or until a recipe (or,
   * through `@InvalidatesAlso`, an ingredient) changes: `dependsOn` puts the generation of
   * Recipe into the page's key, and the TypeORM subscriber moves it on at each write.
   */
  @Get('page')
  @CachePage(60, { dependsOn: [Recipe] })
  async page(): Promise<{ generatedAt: string; recipes: Recipe[] }> {
    return { generatedAt: new Date().toISOString(), recipes: await this.recipesService.listFromDatabase() };
  }

  /**
   * One recipe's page depends on its row only: editing another recipe leaves it cached. The id
   * comes from the request, since pipes run after the page cache.
   */
  @Get(':id/page')
  @CachePage(60, { dependsOn: [[Recipe, (request: { params: { id: string } }) => request.params.id]] })
  async recipePage(@Param('id', ParseIntPipe) id: number): Promise<{ generatedAt: string; recipe: Recipe }> {
    return { generatedAt: new Date().toISOString(), recipe: await this.recipesService.findOne(id) };
  }

  @Post()
  create(@Body() body: DeepPartial<Recipe>): Promise<Recipe> {
    return this.recipesService.create(body);
  }

  @Patch(':id')
  update(@Param('id', ParseIntPipe) id: number, @Body() body: DeepPartial<Recipe>): Promise<Recipe> {
    return this.recipesService.update(id, body);
  }

  @Patch(':id/ingredients/:ingredientId')
  updateIngredient(
    @Param('id', ParseIntPipe) id: number,
    @Param('ingredientId', ParseIntPipe) ingredientId: number,
    @Body() body: { quantity?: unknown },
  ): Promise<Recipe> {
    return this.recipesService.updateIngredient(id, ingredientId, body?.quantity);
  }

  @Get(':id')
  findOne(@Param('id', ParseIntPipe) id: number): Promise<Recipe> {
    return this.recipesService.findOne(id);
  }
}
