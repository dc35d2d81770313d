import type { ServerResponse } from 'node:http';
import { Controller, Get, Param, ParseIntPipe, Res } from '@nestjs/common';
import type { Recipe } from './recipe.entity.js';
import { RecipesService } from './recipes.service.js';

@Controller('recipes')
export class RecipesController {
  constructor(private readonly recipesService: RecipesService) {}

  /** Says in `X-Cache` whether the list came from the filesystem cache, to watch it work. */
  @Get()
  async findAll(@Res({ passthrough: true }) response: ServerResponse): Promise<Recipe[]> {
    const { recipes, cacheHit } = await this.recipesService.findAll();
    response.setHeader('X-Cache', cacheHit ? 'HIT' : 'MISS');
    return recipes;
  }

  @Get(':id')
  findOne(@Param('id', ParseIntPipe) id: number): Promise<Recipe> {
    return this.recipesService.findOne(id);
  }
}
