import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type {
  DataSource,
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  QueryRunner,
  RecoverEvent,
  RemoveEvent,
  SoftRemoveEvent,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  TransactionStartEvent,
  UpdateEvent,
} from 'typeorm';
import { CacheConfigError } from '../core/errors.js';
import { requirePeers } from '../core/optional-peers.js';
import { CacheInvalidator, type ChangedRow } from './cache-invalidator.js';
import type { EntityRef } from '../interfaces/invalidation-options.interface.js';
import { CACHE_INVALIDATION_OPTIONS } from '../cache.constants.js';
import type { ResolvedInvalidationOptions } from '../interfaces/invalidation-options.interface.js';

/**
 * Generation keys waiting for a transaction to commit, by savepoint depth: a change made at depth
 * `d` is kept at `levels[d]`; a nested commit merges its level into the one below, a nested
 * rollback drops it, the outermost commit bumps them all and the outermost rollback none.
 */
type PendingLevels = Array<Set<string> | undefined>;

// transactionDepth is protected in TypeORM's typings; every driver's query runner keeps it.
type RunnerWithDepth = QueryRunner & { transactionDepth?: number };

/**
 * Watches the app's TypeORM DataSources and bumps the generations of what changed, after the
 * outermost commit (nothing on rollback), before the write's promise resolves: TypeORM awaits its
 * subscribers' `after…` hooks inside `save()`, `remove()`, `execute()` and `commitTransaction()`.
 *
 * Rows are known for `save()`/`remove()`/`softRemove()`/`recover()` (the persistence layer passes
 * them); QueryBuilder writes (and the repository's `update`, `delete`, `insert`, `softDelete`,
 * `restore` built on them) pass none, so they invalidate the entity and all its row-level keys.
 */
@Injectable()
export class InvalidationSubscriber implements EntitySubscriberInterface, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('CacheInvalidation');
  private readonly attached: DataSource[] = [];
  // Keyed weakly by query runner: a runner released mid-transaction takes its changes with it;
  // the SQLite drivers' single runner is reset when its next outermost transaction starts.
  private readonly pending = new WeakMap<QueryRunner, PendingLevels>();

  constructor(
    private readonly invalidator: CacheInvalidator,
    private readonly moduleRef: ModuleRef,
    @Inject(CACHE_INVALIDATION_OPTIONS) private readonly options: ResolvedInvalidationOptions,
  ) {}

  /** Attaches to the DataSources named (or the default one, if the app has one). */
  async onModuleInit(): Promise<void> {
    if (this.options === false) return;
    const explicit = this.options.dataSources;
    try {
      await requirePeers('invalidation.dataSources is set', ['@nestjs/typeorm', 'typeorm']);
    } catch (error) {
      if (explicit === undefined) return; // an app without TypeORM: nothing to watch
      throw error;
    }
    const { getDataSourceToken } = await import('@nestjs/typeorm');
    for (const name of explicit ?? [undefined]) {
      let dataSource: DataSource | undefined;
      try {
        dataSource = this.moduleRef.get<DataSource>(getDataSourceToken(name) as never, { strict: false });
      } catch {
        dataSource = undefined;
      }
      if (dataSource === undefined || !Array.isArray(dataSource.subscribers)) {
        if (explicit === undefined) return;
        throw new CacheConfigError(
          `invalidation.dataSources: no TypeORM DataSource named '${name}' was found. Import TypeOrmModule.forRoot({ name: '${name}', ... }), or remove it from the list.`,
        );
      }
      if (dataSource.subscribers.includes(this)) continue; // listed twice, or one DataSource under two names
      if (dataSource.subscribers.some((subscriber) => subscriber instanceof InvalidationSubscriber)) {
        // CacheModule.forRoot() called twice makes two modules, each with its own stores: both
        // must hear the write, or the other module's entries would stay stale. Attach, and say so.
        this.logger.warn(
          `TypeORM DataSource '${name ?? 'default'}' is watched by two CacheModules: CacheModule.forRoot() was called more than once, so every write invalidates each module's stores. Call it once, in the root module (it is global), and import that module elsewhere.`,
        );
      }
      dataSource.subscribers.push(this);
      this.attached.push(dataSource);
    }
  }

  /** Detaches before TypeORM's module closes the DataSources. */
  onModuleDestroy(): void {
    for (const dataSource of this.attached.splice(0)) {
      const index = dataSource.subscribers.indexOf(this);
      if (index !== -1) dataSource.subscribers.splice(index, 1);
    }
  }

  afterInsert(event: InsertEvent<object>): Promise<void> | void {
    // QueryBuilder inserts carry no identifier: the rows are unknown.
    const rows = event.entityId === undefined ? undefined : [{ id: event.entityId, rows: present(event.entity) }];
    return this.record(event.queryRunner, event.metadata, rows);
  }

  afterUpdate(event: UpdateEvent<object>): Promise<void> | void {
    // The persistence layer loads the row it updates; a QueryBuilder update passes only its SET values.
    const { databaseEntity, entity, metadata } = event;
    if (databaseEntity === undefined) return this.record(event.queryRunner, metadata, undefined);
    const objects = present(entity as object | undefined, databaseEntity);
    const ids = new Set(objects.map((object) => metadata.getEntityIdMixedMap(object)).filter((id) => id != null));
    const rows: ChangedRow[] | undefined = ids.size === 0 ? undefined : [...ids].map((id) => ({ id, rows: objects }));
    return this.record(event.queryRunner, metadata, rows);
  }

  afterRemove(event: RemoveEvent<object>): Promise<void> | void {
    return this.record(event.queryRunner, event.metadata, rowsOf(event.entityId, event.entity, event.databaseEntity));
  }

  afterSoftRemove(event: SoftRemoveEvent<object>): Promise<void> | void {
    return this.record(event.queryRunner, event.metadata, rowsOf(event.entityId, event.entity, event.databaseEntity));
  }

  afterRecover(event: RecoverEvent<object>): Promise<void> | void {
    return this.record(event.queryRunner, event.metadata, rowsOf(event.entityId, event.entity, event.databaseEntity));
  }

  afterTransactionStart(event: TransactionStartEvent): void {
    const runner = event.queryRunner as RunnerWithDepth;
    if ((runner.transactionDepth ?? 1) <= 1) this.pending.delete(runner); // a new outermost transaction
  }

  async afterTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    const runner = event.queryRunner as RunnerWithDepth;
    const levels = this.pending.get(runner);
    if (levels === undefined) return;
    if (!runner.isTransactionActive) {
      this.pending.delete(runner);
      const keys = new Set<string>();
      for (const level of levels) level?.forEach((key) => keys.add(key));
      await this.invalidator.bump(keys);
      return;
    }
    // A savepoint released: what it changed now belongs to the enclosing level.
    const depth = runner.transactionDepth ?? 1;
    const into = (levels[depth] ??= new Set());
    for (const level of levels.splice(depth + 1)) level?.forEach((key) => into.add(key));
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    const runner = event.queryRunner as RunnerWithDepth;
    if (!runner.isTransactionActive) this.pending.delete(runner);
    else this.pending.get(runner)?.splice((runner.transactionDepth ?? 1) + 1);
  }

  /** Bumps at once outside a transaction; inside one, keeps the keys for the outermost commit. */
  private record(runner: QueryRunner, metadata: EntityMetadata, rows: ChangedRow[] | undefined): Promise<void> | void {
    const keys = this.invalidator.keysOf(entitiesOf(metadata), rows);
    if (!runner.isTransactionActive) return this.invalidator.bump(keys);
    const depth = (runner as RunnerWithDepth).transactionDepth ?? 1;
    let levels = this.pending.get(runner);
    if (levels === undefined) this.pending.set(runner, (levels = []));
    const level = (levels[depth] ??= new Set());
    for (const key of keys) level.add(key);
  }
}

/** The entity and, under table inheritance, its parent entities: a change to a child row changes theirs. */
function entitiesOf(metadata: EntityMetadata): EntityRef[] {
  const entities: EntityRef[] = [];
  for (let current: EntityMetadata | undefined = metadata; current; current = current.parentEntityMetadata) {
    entities.push(current.target as EntityRef);
  }
  return entities;
}

function rowsOf(id: unknown, ...objects: Array<object | undefined>): ChangedRow[] | undefined {
  return id === undefined || id === null ? undefined : [{ id, rows: present(...objects) }];
}

function present(...objects: Array<object | undefined>): object[] {
  return objects.filter((object): object is object => object !== undefined && object !== null);
}
