/** An entity: its class (`Recipe`), or its name for entities declared with `EntitySchema`. */
export type EntityRef = Function | string;

/** One relation along which a change spreads: a change to `from` also changes `to`'s row `id(row)`. */
export interface InvalidationRelation<R = any> {
  from: EntityRef;
  /** A function, so that entities importing each other can name one another. */
  to: () => EntityRef;
  /** The id of the `to` row that the changed `from` row belongs to; `undefined` when unknown. */
  id: (row: R) => unknown;
}

/**
 * `CacheModule`'s `invalidation` option: which TypeORM DataSources are watched for changes, and
 * which aliases hold the generations `dependsOn` reads. `false` turns the subscriber off
 * (`CacheInvalidator` still works).
 *
 * @example CacheModule.forRoot(caches, { invalidation: { dataSources: ['default', 'analytics'] } })
 */
export interface InvalidationOptions {
  /**
   * `@nestjs/typeorm` connection names (`'default'` is the unnamed one). Default: the default
   * DataSource when the app has one, and nothing otherwise; a name given here must exist.
   */
  dataSources?: string[];
  /** The aliases whose generations a change bumps. Default: every configured alias. */
  caches?: string[];
  /** Relations declared here rather than with `@InvalidatesAlso` on the entity. */
  relations?: InvalidationRelation[];
  /**
   * The least time, in seconds, a generation lives in every alias (`null`: never expire, for
   * stores that evict by themselves, such as memcached or redis with an `allkeys-*` policy).
   * Default: one day. Generations also live twice as long as the longest `dependsOn` entry seen;
   * setting this to at least twice your longest timeout makes that hold from boot, in every
   * instance, with no touch.
   */
  generationTimeout?: number | null;
}

/** The option after validation: `false` when the subscriber is off. */
export type ResolvedInvalidationOptions = false | InvalidationOptions;
