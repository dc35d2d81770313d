import { describeValue } from '../core/describe-value.js';
import { CacheConfigError } from '../core/errors.js';
import { checkKnownFields } from '../core/known-fields.js';
import type { InvalidationOptions, ResolvedInvalidationOptions } from '../interfaces/invalidation-options.interface.js';

const FIELDS = ['dataSources', 'caches', 'relations', 'generationTimeout'];
const RELATION_FIELDS = ['from', 'to', 'id'];

/** Checks `CacheModule`'s `invalidation` option, naming the field and the fix. */
export function resolveInvalidationOptions(value: unknown): ResolvedInvalidationOptions {
  if (value === undefined || value === true) return {};
  if (value === false) return false;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CacheConfigError(
      `invalidation must be false (off) or an object such as { dataSources: ['default'] }; got ${describeValue(value)}.`,
    );
  }
  checkKnownFields(value, FIELDS, 'invalidation');
  const { dataSources, caches, relations, generationTimeout } = value as InvalidationOptions;
  if (
    generationTimeout !== undefined &&
    generationTimeout !== null &&
    !(typeof generationTimeout === 'number' && generationTimeout > 0 && Number.isFinite(generationTimeout))
  ) {
    throw new CacheConfigError(
      `invalidation.generationTimeout must be a number of seconds above 0, or null (never expire); got ${describeValue(generationTimeout)}.`,
    );
  }
  checkNames(dataSources, 'dataSources', "@nestjs/typeorm connection names, e.g. ['default', 'analytics']");
  checkNames(caches, 'caches', "cache aliases, e.g. ['default', 'redis']");
  if (relations !== undefined) {
    if (!Array.isArray(relations)) {
      throw new CacheConfigError(
        'invalidation.relations must be an array of { from: Ingredient, to: () => Recipe, id: (row) => row.recipeId }.',
      );
    }
    relations.forEach((relation: unknown, index) => {
      const where = `invalidation.relations[${index}]`;
      if (relation === null || typeof relation !== 'object') {
        throw new CacheConfigError(
          `${where} must be { from: Ingredient, to: () => Recipe, id: (row) => row.recipeId }.`,
        );
      }
      checkKnownFields(relation, RELATION_FIELDS, where);
      const { from, to, id } = relation as Record<string, unknown>;
      if (!((typeof from === 'function' && from.name !== '') || (typeof from === 'string' && from !== ''))) {
        throw new CacheConfigError(
          `${where}.from must be the entity class (or EntitySchema name) whose changes spread.`,
        );
      }
      // A class is a function too: `to: Recipe` would be called as `Recipe()` and throw later.
      if (typeof to !== 'function' || Function.prototype.toString.call(to).startsWith('class')) {
        throw new CacheConfigError(`${where}.to must be a function returning the entity, e.g. () => Recipe.`);
      }
      if (typeof id !== 'function') {
        throw new CacheConfigError(`${where}.id must be a function of the changed row, e.g. (row) => row.recipeId.`);
      }
    });
  }
  return value as InvalidationOptions;
}

function checkNames(names: unknown, field: string, what: string): void {
  if (names === undefined) return;
  if (!Array.isArray(names) || names.some((name) => typeof name !== 'string' || name === '')) {
    throw new CacheConfigError(`invalidation.${field} must be an array of ${what}; got ${JSON.stringify(names)}.`);
  }
}
