import { Column, CreateDateColumn, Entity, OneToMany, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { Ingredient } from './ingredient.entity.js';

@Entity()
export class Recipe {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  name!: string;

  @Column('text')
  description!: string;

  @CreateDateColumn()
  createdAt!: Date;

  // Relation<> keeps the class out of the emitted design:type metadata: the two entity files
  // import each other, and under ESM that metadata would read Ingredient before it is defined.
  // Cascaded inserts let the seed save a recipe and its ingredients in one call.
  @OneToMany(() => Ingredient, (ingredient) => ingredient.recipe, { cascade: ['insert'] })
  ingredients!: Relation<Ingredient[]>;
}
