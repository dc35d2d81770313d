import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { Recipe } from './recipe.entity.js';

@Entity()
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
