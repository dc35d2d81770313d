import { CacheConfigError } from '../core/errors.js';
import { hashKey } from '../core/keys.js';
import type { EntityRef } from '../interfaces/invalidation-options.interface.js';

/**
 * What a cached value was computed from: a whole entity (`Recipe`: any change to any recipe makes
 * it stale) or one row (`[Recipe, (input) => id]`). The id function receives the call's input: the
 * method's arguments as one array for `@Cacheable`, the request for `@CachePage`, the `varyOn`
 * values for `FragmentCache`.
 *
 * @example dependsOn: [Recipe, [Ingredient, (args) => args[0]]]
 */
export type Dependency<I = any> = EntityRef | readonly [EntityRef, (input: I) => unknown];

// Every generation key starts with this namespace. Users' keys come from their own code, from
// `@Cacheable` templates (`recipe:{0}`) or class + method names, from the page cache
// (`views.decorators.cache…`) or fragments (`template.cache…`): none begins with a double
// underscore followed by this package's name, so only code that types the namespace itself can
// produce one of these keys.
export const GENERATION_NAMESPACE = '__nestjs_caches__:generation:';
// Row ids go into keys: longer ones are hashed so that every generation key fits memcached's 250.
const MAX_ROW_KEY_LENGTH = 80;

/** The name generations are kept under: the class name, or the `EntitySchema` name. */
export function entityNameOf(entity: EntityRef): string {
  return typeof entity === 'function' ? entity.name : entity;
}

/** The generation of the whole entity: bumped by every change to it. */
export function entityGenerationKey(entity: string): string {
  return `${GENERATION_NAMESPACE}${entity}`;
}

/** The generation every row-level key of the entity shares: bumped by changes whose rows are unknown. */
export function rowsGenerationKey(entity: string): string {
  return `${GENERATION_NAMESPACE}${entity}:rows`;
}

/** The generation of one row. */
export function rowGenerationKey(entity: string, rowKey: string): string {
  return `${GENERATION_NAMESPACE}${entity}:row:${rowKey}`;
}

/**
 * A row id as it appears in keys: numbers and strings alike (`7` and `'7'`, as route params give
 * them), composite ids (objects) by their sorted entries; `undefined` when there is no id.
 */
export function rowKeyOf(id: unknown): string | undefined {
  if (id === undefined || id === null || id === '') return undefined;
  let text: string;
  if (typeof id === 'object' && !(id instanceof Date)) {
    const entries = Object.entries(id as Record<string, unknown>)
      .filter(([, value]) => value !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => [name, rowKeyOf(value) ?? null]);
    if (entries.length === 0) return undefined;
    text = JSON.stringify(entries);
  } else {
    text = id instanceof Date ? id.toISOString() : String(id);
  }
  const encoded = encodeURIComponent(text);
  return encoded.length <= MAX_ROW_KEY_LENGTH ? encoded : hashKey(text);
}

/** The generation keys a list of dependencies reads for one input, in order. */
export function generationKeysOf(dependsOn: readonly Dependency[], input: unknown): string[] {
  const keys: string[] = [];
  for (const dependency of dependsOn) {
    if (typeof dependency === 'function' || typeof dependency === 'string') {
      keys.push(entityGenerationKey(entityNameOf(dependency)));
      continue;
    }
    const [entity, idOf] = dependency;
    const name = entityNameOf(entity);
    const rowKey = rowKeyOf(idOf(input));
    // Without an id the value may come from any row: depend on the whole entity.
    if (rowKey === undefined) keys.push(entityGenerationKey(name));
    else keys.push(rowsGenerationKey(name), rowGenerationKey(name, rowKey));
  }
  return keys;
}

/** Checks a `dependsOn` list when a decorator is applied, naming where it is and the fix. */
export function checkDependencies(dependsOn: unknown, where: string): readonly Dependency[] | undefined {
  if (dependsOn === undefined) return undefined;
  const example = 'e.g. [Recipe] or [[Recipe, (args) => args[0]]]';
  if (!Array.isArray(dependsOn)) {
    throw new CacheConfigError(
      `${where}: dependsOn must be an array of entities or [entity, id function] pairs, ${example}.`,
    );
  }
  for (const [index, dependency] of dependsOn.entries()) {
    const valid = isEntityRef(dependency)
      ? true
      : Array.isArray(dependency) &&
        dependency.length === 2 &&
        isEntityRef(dependency[0]) &&
        typeof dependency[1] === 'function';
    if (!valid) {
      throw new CacheConfigError(
        `${where}: dependsOn[${index}] is neither an entity class nor an [entity, id function] pair; ${example}. An entity imported in a cycle may still be undefined here: import it from its own file.`,
      );
    }
  }
  return dependsOn as readonly Dependency[];
}

function isEntityRef(value: unknown): value is EntityRef {
  return (typeof value === 'function' && value.name !== '') || (typeof value === 'string' && value !== '');
}
