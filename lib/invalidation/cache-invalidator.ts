import { Inject, Injectable, Logger } from '@nestjs/common';
import { Caches } from '../caches.js';
import type { Cache } from '../core/cache.js';
import { entityGenerationKey, entityNameOf, rowGenerationKey, rowKeyOf, rowsGenerationKey } from './dependencies.js';
import { bumpGenerations, setGenerationFloor } from './generations.js';
import { relationsDeclaredOn } from './invalidates-also.decorator.js';
import { CACHE_INVALIDATION_OPTIONS } from '../cache.constants.js';
import type {
  EntityRef,
  InvalidationRelation,
  ResolvedInvalidationOptions,
} from '../interfaces/invalidation-options.interface.js';

/** A changed row: its id, and the row objects the change knows of (as written, as it was). */
export interface ChangedRow {
  id: unknown;
  rows: object[];
}

/**
 * Invalidates what `dependsOn` cached, by hand: for writes the TypeORM subscriber cannot see (raw
 * SQL, another service, `{ listeners: false }`). With an id, the row's entries and the entity's
 * go; without, every entry depending on the entity or any of its rows.
 *
 * @example await invalidator.invalidate(Recipe, 7);
 */
@Injectable()
export class CacheInvalidator {
  private readonly logger = new Logger('CacheInvalidator');
  private readonly targets: Cache[];
  private readonly optionRelations: InvalidationRelation[];
  private readonly relationsByEntity = new Map<EntityRef, InvalidationRelation[]>();

  constructor(caches: Caches, @Inject(CACHE_INVALIDATION_OPTIONS) options: ResolvedInvalidationOptions) {
    // caches.get names the configured aliases when one is unknown.
    this.targets = options && options.caches ? options.caches.map((alias) => caches.get(alias)) : caches.all();
    this.optionRelations = (options && options.relations) || [];
    // Every alias: dependsOn may read generations in any of them, not only in those bumped.
    const floor = options ? options.generationTimeout : undefined;
    if (floor !== undefined) for (const cache of caches.all()) setGenerationFloor(cache, floor);
  }

  /** Bumps the generations of the entity, and of the row when `id` is given; resolves once done. */
  async invalidate(entity: EntityRef, id?: unknown): Promise<void> {
    const rows = id === undefined ? undefined : [{ id, rows: [] }];
    await this.bump(this.keysOf([entity], rows), true);
  }

  /**
   * The generation keys a change bumps: each entity's (`entities`: the entity and the classes it
   * inherits from), its rows' (or, with `rows` unknown, the one all its row-level keys share), and
   * those of the rows it belongs to through `@InvalidatesAlso`.
   */
  keysOf(
    entities: readonly EntityRef[],
    rows: readonly ChangedRow[] | undefined,
    into = new Set<string>(),
  ): Set<string> {
    for (const entity of entities) {
      const name = entityNameOf(entity);
      into.add(entityGenerationKey(name));
      if (rows === undefined) into.add(rowsGenerationKey(name));
      else {
        for (const row of rows) {
          const rowKey = rowKeyOf(row.id);
          into.add(rowKey === undefined ? rowsGenerationKey(name) : rowGenerationKey(name, rowKey));
        }
      }
      for (const relation of this.relationsOf(entity)) this.relatedKeys(relation, rows, into);
    }
    return into;
  }

  /**
   * Deletes the generations in every target alias, in parallel. A store that fails is logged: the
   * write has committed already, and its entries will age out by their timeout.
   */
  async bump(keys: Iterable<string>, rethrow = false): Promise<void> {
    const list = [...keys];
    if (list.length === 0) return;
    const results = await Promise.allSettled(this.targets.map((cache) => bumpGenerations(cache, list)));
    for (const [index, result] of results.entries()) {
      if (result.status === 'fulfilled') continue;
      if (rethrow) throw result.reason;
      this.logger.error(
        `Could not invalidate ${list.join(', ')} in cache '${this.targets[index]!.alias}': ${String(result.reason)}. Entries depending on them stay until their timeout.`,
      );
    }
  }

  private relatedKeys(
    relation: InvalidationRelation,
    rows: readonly ChangedRow[] | undefined,
    into: Set<string>,
  ): void {
    const name = entityNameOf(relation.to());
    into.add(entityGenerationKey(name));
    if (rows === undefined) {
      into.add(rowsGenerationKey(name));
      return;
    }
    for (const row of rows) {
      // Both the row as written and as it was: moving an ingredient changes both recipes.
      const ids = row.rows.map((object) => rowKeyOf(relation.id(object)));
      if (ids.length === 0 || ids.every((id) => id === undefined)) {
        into.add(rowsGenerationKey(name));
        continue;
      }
      for (const id of ids) if (id !== undefined) into.add(rowGenerationKey(name, id));
    }
  }

  private relationsOf(entity: EntityRef): InvalidationRelation[] {
    let relations = this.relationsByEntity.get(entity);
    if (relations === undefined) {
      const name = entityNameOf(entity);
      relations = [
        ...relationsDeclaredOn(entity),
        ...this.optionRelations.filter((relation) => relation.from === entity || entityNameOf(relation.from) === name),
      ];
      this.relationsByEntity.set(entity, relations);
    }
    return relations;
  }
}
