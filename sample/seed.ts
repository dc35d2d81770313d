import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource, type DeepPartial } from 'typeorm';
import { Recipe } from './recipes/recipe.entity.js';

const RECIPES: DeepPartial<Recipe>[] = [
  {
    name: 'Spaghetti carbonara',
    description: 'Pasta with egg, cheese and guanciale; the sauce is made by the heat of the pasta, never the pan.',
    ingredients: [
      { name: 'spaghetti', quantity: '400 g' },
      { name: 'guanciale', quantity: '150 g' },
      { name: 'egg yolks', quantity: '4' },
      { name: 'pecorino romano', quantity: '60 g' },
      { name: 'black pepper', quantity: 'to taste' },
    ],
  },
  {
    name: 'Shakshuka',
    description: 'Eggs poached in a spiced tomato and pepper sauce, served in the pan.',
    ingredients: [
      { name: 'eggs', quantity: '4' },
      { name: 'chopped tomatoes', quantity: '800 g' },
      { name: 'red pepper', quantity: '1' },
      { name: 'onion', quantity: '1' },
      { name: 'cumin', quantity: '1 tsp' },
      { name: 'smoked paprika', quantity: '1 tsp' },
    ],
  },
  {
    name: 'Pancakes',
    description: 'Thick, fluffy breakfast pancakes.',
    ingredients: [
      { name: 'flour', quantity: '200 g' },
      { name: 'milk', quantity: '300 ml' },
      { name: 'egg', quantity: '1' },
      { name: 'baking powder', quantity: '2 tsp' },
    ],
  },
  {
    name: 'Guacamole',
    description: 'Avocados mashed with lime, onion and coriander, just before serving.',
    ingredients: [
      { name: 'avocados', quantity: '3' },
      { name: 'lime', quantity: '1' },
      { name: 'red onion', quantity: '½' },
      { name: 'coriander', quantity: 'a handful' },
    ],
  },
  {
    name: 'Tomato soup',
    description: 'Roasted tomatoes blended with garlic and basil.',
    ingredients: [
      { name: 'tomatoes', quantity: '1 kg' },
      { name: 'garlic', quantity: '3 cloves' },
      { name: 'basil', quantity: 'a handful' },
    ],
  },
];

/** Fills an empty database on start, so the app has something to serve (and to cache). */
@Injectable()
export class RecipeSeeder implements OnModuleInit {
  private readonly logger = new Logger(RecipeSeeder.name);

  constructor(private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    const recipes = this.dataSource.getRepository(Recipe);
    if ((await recipes.count()) > 0) return;
    await recipes.save(recipes.create(RECIPES));
    this.logger.log(`Seeded ${RECIPES.length} recipes.`);
  }
}
