import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { DeepPartial, Repository } from 'typeorm';
import { Cache, InjectCache, versionedKeyPart } from '../../lib/index.js';
import { Ingredient } from './ingredient.entity.js';
import { Recipe } from './recipe.entity.js';

const ALL_RECIPES_KEY = 'recipes:all';
const LIST_TIMEOUT_SECONDS = 60;

export interface CachedRecipes {
  recipes: Recipe[];
  cacheHit: boolean;
}

@Injectable()
export class RecipesService {
  constructor(
    @InjectRepository(Recipe) private readonly recipes: Repository<Recipe>,
    @InjectRepository(Ingredient) private readonly ingredients: Repository<Ingredient>,
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

  /**
   * `getOrSet` under a versioned key: the generation of Recipe is part of the key, so any write
   * through TypeORM (the edit form's, another process's) leaves the old list behind, unread.
   */
  async listWithGetOrSet(): Promise<CachedRecipes> {
    let cacheHit = true;
    const generation = await versionedKeyPart(this.cache, [Recipe], [], LIST_TIMEOUT_SECONDS);
    const recipes = await this.cache.getOrSet(
      `recipes:list~${generation}`,
      () => {
        cacheHit = false;
        return this.listFromDatabase();
      },
      LIST_TIMEOUT_SECONDS,
    );
    return { recipes, cacheHit };
  }

  /** The same pattern in one call: `getOrSet` queries only on a miss. */
  async findOne(id: number): Promise<Recipe> {
    // Throwing from the factory stores nothing, so an unknown id is not remembered as missing
    // and a recipe created later under it is found.
    return this.cache.getOrSet(`recipe:${id}`, () => this.findOneFromDatabase(id));
  }

  async findOneFromDatabase(id: number): Promise<Recipe> {
    const recipe = await this.recipes.findOne({
      where: { id },
      relations: { ingredients: true },
      order: { ingredients: { id: 'ASC' } },
    });
    if (recipe === null) throw new NotFoundException(`No recipe with id ${id}.`);
    return recipe;
  }

  /**
   * Writes go through TypeORM: the pages cached with `dependsOn` are fresh as soon as the write
   * resolves, with no code here. The low-level entries above know nothing of rows, so they are
   * evicted by hand, the Django way.
   */
  async create(fields: DeepPartial<Recipe>): Promise<Recipe> {
    const recipe = await this.recipes.save(this.recipes.create(checkedRecipe(fields, true)));
    await this.files.delete(ALL_RECIPES_KEY);
    return this.findOne(recipe.id);
  }

  async update(id: number, fields: DeepPartial<Recipe>): Promise<Recipe> {
    const recipe = await this.recipes.findOneBy({ id });
    if (recipe === null) throw new NotFoundException(`No recipe with id ${id}.`);
    const { name, description } = checkedRecipe(fields, false);
    await this.recipes.save(this.recipes.merge(recipe, { name, description }));
    await this.evict(id);
    return this.findOne(id);
  }

  /** An ingredient's change reaches its recipe's page through `@InvalidatesAlso` on Ingredient. */
  async updateIngredient(recipeId: number, ingredientId: number, quantity: unknown): Promise<Recipe> {
    const ingredient = await this.ingredients.findOneBy({ id: ingredientId, recipeId });
    if (ingredient === null) throw new NotFoundException(`Recipe ${recipeId} has no ingredient ${ingredientId}.`);
    if (typeof quantity !== 'string' || quantity === '') throw new BadRequestException('quantity must be a string.');
    await this.ingredients.save(this.ingredients.merge(ingredient, { quantity }));
    await this.evict(recipeId);
    return this.findOne(recipeId);
  }

  private async evict(id: number): Promise<void> {
    await Promise.all([this.cache.delete(`recipe:${id}`), this.files.delete(ALL_RECIPES_KEY)]);
  }
}

/** The fields a client may send; `create` needs a name and a description. */
function checkedRecipe(fields: DeepPartial<Recipe>, creating: boolean): DeepPartial<Recipe> {
  const { name, description, ingredients } = (fields ?? {}) as Record<string, unknown>;
  for (const [field, value] of Object.entries({ name, description })) {
    if ((creating || value !== undefined) && (typeof value !== 'string' || value === '')) {
      throw new BadRequestException(`${field} must be a non-empty string.`);
    }
  }
  if (!creating) return { name: name as string | undefined, description: description as string | undefined };
  if (ingredients !== undefined && !Array.isArray(ingredients)) {
    throw new BadRequestException('ingredients must be an array of { name, quantity }.');
  }
  return {
    name: name as string,
    description: description as string,
    ingredients: (ingredients ?? []) as DeepPartial<Ingredient>[],
  };
}
