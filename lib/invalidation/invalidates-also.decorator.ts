import type { EntityRef, InvalidationRelation } from '../interfaces/invalidation-options.interface.js';

const INVALIDATES_ALSO_METADATA = 'nestjs-caches:invalidates-also';

/**
 * A change to a row of this entity also invalidates the row of another entity it belongs to (as
 * Rails' `touch: true`): that row and that entity. When the id cannot be known (a QueryBuilder
 * write, or the function returns `undefined`), every row of the other entity is invalidated.
 *
 * @example @Entity() @InvalidatesAlso(() => Recipe, (ingredient: Ingredient) => ingredient.recipeId) class Ingredient {}
 */
export function InvalidatesAlso<R = any>(to: () => EntityRef, id: (row: R) => unknown): ClassDecorator {
  return (target) => {
    const previous = relationsDeclaredOn(target);
    Reflect.defineMetadata(INVALIDATES_ALSO_METADATA, [...previous, { from: target, to, id }], target);
  };
}

/** The relations `@InvalidatesAlso` declared on an entity class. */
export function relationsDeclaredOn(entity: EntityRef): InvalidationRelation[] {
  if (typeof entity !== 'function') return [];
  return (Reflect.getOwnMetadata(INVALIDATES_ALSO_METADATA, entity) as InvalidationRelation[] | undefined) ?? [];
}
