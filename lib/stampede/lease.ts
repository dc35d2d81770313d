import { randomUUID } from 'node:crypto';

/** The primitives a lease needs, on the reserved lock key of a user key (provided by `Cache`). */
export interface LeaseStore {
  /** Stores `token` under the lock key only if absent; `true` when stored. */
  tryTake(key: string, version: number | undefined, token: string, ttlMs: number): Promise<boolean>;
  /** Removes the lock key only while it still holds `token`; never throws (the TTL frees it anyway). */
  release(key: string, version: number | undefined, token: string): Promise<void>;
}

/**
 * A cross-process lease on one key: whoever `add`s the lock key first owns it, with a token of
 * its own so that only the owner releases it, and a TTL so that it frees itself if the owner dies.
 */
export class Lease {
  private constructor(
    private readonly store: LeaseStore,
    private readonly key: string,
    private readonly version: number | undefined,
    private readonly token: string,
  ) {}

  /** The lease, or `undefined` when another process (or caller) holds it. */
  static async take(
    store: LeaseStore,
    key: string,
    version: number | undefined,
    ttlMs: number,
  ): Promise<Lease | undefined> {
    const token = randomUUID();
    return (await store.tryTake(key, version, token, ttlMs)) ? new Lease(store, key, version, token) : undefined;
  }

  release(): Promise<void> {
    return this.store.release(this.key, this.version, this.token);
  }
}
