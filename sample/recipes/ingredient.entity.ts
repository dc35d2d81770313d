import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { InvalidatesAlso } from '../../lib/index.js';
import { Recipe } from './recipe.entity.js';

// A changed ingredient changes its recipe's pages too (as Rails' `touch: true`). Saved through
// the recipe's cascade, an ingredient may carry the relation rather than the column.
@Entity()
@InvalidatesAlso(() => Recipe, (ingredient: Ingredient) => ingredient.recipeId ?? ingredient.recipe?.id)
export class Ingredient {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  name!: string;

  /** As a cook writes it: "200 g", "2 tbsp", "a pinch". */
  @Column()
  quantity!: string;

  @Column()
  recipeId!: number;

  // Relation<>: see Recipe.ingredients.
  @ManyToOne(() => Recipe, (recipe) => recipe.ingredients, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'recipeId' })
  recipe!: Relation<Recipe>;
}
