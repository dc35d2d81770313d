import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { Cache, InjectCache } from '../../lib/index.js';
import { Recipe } from './recipe.entity.js';

const ALL_RECIPES_KEY = 'recipes:all';

export interface CachedRecipes {
  recipes: Recipe[];
  cacheHit: boolean;
}

@Injectable()
export class RecipesService {
  constructor(
    @InjectRepository(Recipe) private readonly recipes: Repository<Recipe>,
    @InjectCache('filesystem') private readonly files: Cache,
    private readonly cache: Cache,
  ) {}

  /** Django's low-level cache API example: read, and on a miss query the database and store. */
  async findAll(): Promise<CachedRecipes> {
    const cached = await this.files.get<Recipe[]>(ALL_RECIPES_KEY);
    if (cached !== undefined) return { recipes: cached, cacheHit: true };
    const recipes = await this.listFromDatabase();
    await this.files.set(ALL_RECIPES_KEY, recipes); // the alias's timeout: 60 seconds
    return { recipes, cacheHit: false };
  }

  /** Straight from the database: the page cache in front of `/recipes/page` is what saves the query. */
  listFromDatabase(): Promise<Recipe[]> {
    return this.recipes.find({ relations: { ingredients: true }, order: { id: 'ASC', ingredients: { id: 'ASC' } } });
  }

  /** The same pattern in one call: `getOrSet` queries only on a miss. */
  async findOne(id: number): Promise<Recipe> {
    // Throwing from the factory stores nothing, so an unknown id is not remembered as missing
    // and a recipe created later under it is found.
    return this.cache.getOrSet(`recipe:${id}`, async () => {
      const recipe = await this.recipes.findOne({
        where: { id },
        relations: { ingredients: true },
        order: { ingredients: { id: 'ASC' } },
      });
      if (recipe === null) throw new NotFoundException(`No recipe with id ${id}.`);
      return recipe;
    });
  }
}
