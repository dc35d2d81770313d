import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Ingredient } from './ingredient.entity.js';
import { Recipe } from './recipe.entity.js';
import { RecipePagesController } from './recipe-pages.controller.js';
import { RecipesController } from './recipes.controller.js';
import { RecipesService } from './recipes.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Recipe, Ingredient])],
  controllers: [RecipesController, RecipePagesController],
  providers: [RecipesService],
})
export class RecipesModule {}
