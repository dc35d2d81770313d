import { Logger } from '@nestjs/common';
import { Cluster, type ChainableCommander, type Redis } from 'ioredis';
import { CacheConfigError, CacheValueError } from '../../core/errors.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import { decodeValue, encodeValue } from '../../core/serializer.js';
import type { TtlMs } from '../../core/timeouts.js';
import { unsafeCountError } from '../../core/values.js';
import {
  MISS,
  type CacheBackend,
  type EntryTally,
  type Miss,
  type ValueWithTtl,
} from '../../interfaces/cache-backend.interface.js';
import { quitRedis } from './quit-redis.js';

const SCAN_COUNT = 1000;
// V8's serializer starts every payload with its version tag; raw integers are ASCII.
const V8_VERSION_TAG = 0xff;
const UNSAFE_COUNT = 'NESTJS_CACHES_UNSAFE_COUNT';

// INCRBY on a missing key would create it: Django's incr must not. A result past
// Number.MAX_SAFE_INTEGER is refused before it is counted: JavaScript would round it. Lua's
// numbers are doubles, exact below 2^53, so the check is exact where it matters. The script is atomic.
const INCR_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return false end
local number = tonumber(current)
if number and math.abs(number + tonumber(ARGV[1])) > 9007199254740991 then return redis.error_reply('${UNSAFE_COUNT}') end
if ARGV[2] == 'float' then return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1]) end
return redis.call('INCRBY', KEYS[1], ARGV[1])`;

// Compare-and-delete in one step, so that a lock owner never removes a lease that expired and
// was taken by another process in between.
const DELETE_IF_EQUALS_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The commands `defineCommand` adds to the client for INCR_SCRIPT and DELETE_IF_EQUALS_SCRIPT. */
type WithIncrScript = { nestjsCachesIncr(key: string, delta: string, mode: string): Promise<number | string | null> };
type WithDeleteIfEquals = { nestjsCachesDeleteIfEquals(key: string, expected: Buffer | string): Promise<number> };

export interface RedisBackendSettings {
  alias: string;
  clearAll: boolean;
  commandTimeoutMs: number;
  clearPattern: string | undefined;
}

/**
 * Redis through ioredis, on one server (or sentinels) or a cluster. Values are V8-serialized,
 * except safe integers, stored as decimal text so that `incr` is a server-side `INCRBY`:
 * atomic across processes and keeping the key's expiry.
 */
export class RedisBackend implements CacheBackend {
  readonly timesOutCommands = true;
  private readonly connectionErrors: RateLimitedLog;
  private readonly isCluster: boolean;
  private closing: Promise<void> | undefined;

  constructor(
    readonly client: Redis | Cluster,
    private readonly settings: RedisBackendSettings,
  ) {
    this.connectionErrors = new RateLimitedLog(new Logger(`Cache:${settings.alias}`), 'connection errors');
    this.isCluster = client instanceof Cluster;
    client.defineCommand('nestjsCachesIncr', { numberOfKeys: 1, lua: INCR_SCRIPT });
    client.defineCommand('nestjsCachesDeleteIfEquals', { numberOfKeys: 1, lua: DELETE_IF_EQUALS_SCRIPT });
    // Without a listener an 'error' event would crash the process; a server that is down
    // fails every reconnect, so report once per burst.
    const onError = (error: Error) => this.logConnectionError(error);
    client.on('error', onError);
    if (this.isCluster) client.on('node error', onError);
  }

  /**
   * Waits for the first connection, at most the command timeout (or 1 s). Called while the
   * module is built, so that other providers' `onModuleInit` (a seeder whose writes invalidate,
   * a cache warmer) find it connected: the offline queue is off, and commands sent before the
   * connection is ready would fail. A server that is down must not hold the boot any longer.
   */
  async connected(): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(this.settings.commandTimeoutMs, 1000));
      this.client.once('ready', done);
    });
  }

  // get and set return ioredis's promise as is (no async wrapper): one microtask less per call.
  get(key: string): Promise<unknown> {
    return this.client.getBuffer(key).then((bytes) => (bytes === null ? MISS : decodeStored(bytes, key)));
  }

  /** The value and the time it has left, in one round trip (for tiers that back-fill). */
  async getWithTtl(key: string): Promise<ValueWithTtl | Miss> {
    const results = (await this.client.pipeline().getBuffer(key).pttl(key).exec()) ?? [];
    const [[getError, bytes], [ttlError, ttl]] = results as Array<[Error | null, unknown]> as [
      [Error | null, unknown],
      [Error | null, unknown],
    ];
    if (getError) throw getError;
    if (ttlError) throw ttlError;
    if (bytes === null) return MISS;
    const ttlMs = ttl as number;
    return { value: decodeStored(bytes as Buffer, key), ttlMs: ttlMs < 0 ? null : ttlMs };
  }

  async getManyWithTtl(keys: readonly string[]): Promise<Map<string, ValueWithTtl>> {
    const found = new Map<string, ValueWithTtl>();
    const answers = await Promise.all(keys.map((key) => this.getWithTtl(key)));
    keys.forEach((key, i) => {
      const answer = answers[i]!;
      if (answer !== MISS) found.set(key, answer);
    });
    return found;
  }

  async has(key: string): Promise<boolean> {
    return (await this.client.exists(key)) === 1;
  }

  set(key: string, value: unknown, ttlMs: TtlMs): Promise<void> {
    const bytes = encodeStored(value, key);
    // The reply ('OK', a count) says nothing more: resolving with it spares a `.then`.
    if (ttlMs === null) return this.client.set(key, bytes) as Promise<unknown> as Promise<void>;
    if (ttlMs <= 0) return this.client.del(key) as Promise<unknown> as Promise<void>;
    return this.client.set(key, bytes, 'PX', wholeMs(ttlMs)) as Promise<unknown> as Promise<void>;
  }

  async add(key: string, value: unknown, ttlMs: TtlMs): Promise<boolean> {
    const bytes = encodeStored(value, key);
    const reply =
      ttlMs === null
        ? await this.client.set(key, bytes, 'NX')
        : await this.client.set(key, bytes, 'PX', wholeMs(ttlMs), 'NX');
    return reply === 'OK';
  }

  async incr(key: string, delta: number): Promise<number | bigint | Miss> {
    const mode = Number.isInteger(delta) ? 'int' : 'float';
    let reply: number | string | null;
    try {
      reply = await (this.client as unknown as WithIncrScript).nestjsCachesIncr(key, String(delta), mode);
    } catch (error) {
      if ((error as Error).message.includes(UNSAFE_COUNT))
        throw unsafeCountError(key, undefined, 'the stored value is unchanged');
      if (/not an integer|not a valid float|out of range/i.test((error as Error).message)) {
        throw new CacheValueError(
          `Cannot increment key '${key}': its value is not an integer (only integers are stored as numbers redis can increment).`,
          { cause: error },
        );
      }
      throw error;
    }
    if (reply === null) return MISS;
    return typeof reply === 'number' ? reply : parseNumber(reply, key);
  }

  async touch(key: string, ttlMs: TtlMs): Promise<boolean> {
    if (ttlMs !== null && ttlMs <= 0) return (await this.client.del(key)) > 0;
    if (ttlMs !== null) return (await this.client.pexpire(key, wholeMs(ttlMs))) === 1;
    // PERSIST answers 0 for a key without expiry too: ask EXISTS in the same round trip.
    const results = (await this.client.pipeline().exists(key).persist(key).exec()) as Array<[Error | null, unknown]>;
    if (results[0]![0]) throw results[0]![0];
    return results[0]![1] === 1;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.client.del(key)) > 0;
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    const bytes = encodeStored(expected, key);
    return (await (this.client as unknown as WithDeleteIfEquals).nestjsCachesDeleteIfEquals(key, bytes)) === 1;
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    if (keys.length === 0) return [];
    // MGET needs every key in one slot on a cluster: there, one GET per key, sent together.
    const values = this.isCluster
      ? await Promise.all(keys.map((key) => this.client.getBuffer(key)))
      : await this.client.mgetBuffer(...keys);
    // Decoded in place: the reply array is ours, and a copy per call shows in getMany's cost.
    const decoded = values as unknown[];
    for (let i = 0; i < values.length; i++) {
      const bytes = values[i];
      decoded[i] = bytes === null || bytes === undefined ? MISS : decodeStored(bytes, keys[i]!);
    }
    return decoded;
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs): Promise<string[]> {
    // Encode everything first: a value that cannot be stored stores none.
    const encoded = entries.map(([key, value]) => [key, encodeStored(value, key)] as const);
    if (encoded.length === 0) return [];
    const setOne = (target: Redis | Cluster | ChainableCommander, key: string, bytes: Buffer | string) =>
      ttlMs === null ? target.set(key, bytes) : target.set(key, bytes, 'PX', wholeMs(ttlMs));
    let errors: Array<Error | null>;
    if (this.isCluster) {
      const settled = await Promise.allSettled(encoded.map(([key, bytes]) => setOne(this.client, key, bytes)));
      errors = settled.map((result) => (result.status === 'rejected' ? (result.reason as Error) : null));
    } else {
      const pipeline = this.client.pipeline();
      for (const [key, bytes] of encoded) setOne(pipeline, key, bytes);
      errors = ((await pipeline.exec()) ?? []).map(([error]) => error);
    }
    // Every key failing is the server failing: an error, not a list of keys.
    if (errors.every((error) => error !== null)) throw errors[0];
    return encoded.filter((_, i) => errors[i] !== null).map(([key]) => key);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    if (this.isCluster) await Promise.all(keys.map((key) => this.client.unlink(key)));
    else await this.client.unlink(...keys);
  }

  /**
   * Removes this alias's keys only: SCAN over the pattern of its key function (every version),
   * then UNLINK, on each master of a cluster. FLUSHDB only with `options.clearAll`.
   */
  async clear(): Promise<void> {
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    if (this.settings.clearAll) {
      await Promise.all(nodes.map((node) => node.flushdb()));
      return;
    }
    await this.clearMatching(this.settings.clearPattern);
  }

  /** Removes the keys matching a SCAN pattern (from `clearPatternOf`), on every master. */
  async clearMatching(pattern: string | undefined): Promise<void> {
    if (pattern === undefined) {
      throw new CacheConfigError(
        `Cache '${this.settings.alias}' cannot clear: its keyFunction does not keep the key visible, so its keys cannot be told from others. Set options.clearAll: true to FLUSHDB instead.`,
      );
    }
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    await Promise.all(nodes.map((node) => unlinkMatching(node, pattern)));
  }

  /**
   * This alias's keys (a SCAN of its pattern) and the database's size, on one server; a cluster's
   * or sentinels' masters are left to count one by one (`nestjs-caches stats`).
   */
  async count(): Promise<EntryTally> {
    if (this.client instanceof Cluster || this.client.options.sentinels) {
      return { entries: undefined, description: 'not counted (cluster or sentinels: count on each master)' };
    }
    const total = await this.client.dbsize();
    const pattern = this.settings.clearPattern;
    if (pattern === undefined) {
      return {
        entries: undefined,
        description: `${total} keys in the database (its keyFunction hides which are its own)`,
      };
    }
    let cursor = '0';
    let matching = 0;
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      cursor = next;
      matching += keys.length;
    } while (cursor !== '0');
    return { entries: matching, description: `${matching} keys matching ${pattern} (${total} in the database)` };
  }

  /** Quits, and drops the connection if the server does not answer in time. */
  close(): Promise<void> {
    this.closing ??= quitRedis(this.client, this.settings.commandTimeoutMs);
    return this.closing;
  }

  private logConnectionError(error: Error): void {
    this.connectionErrors.warn(`Redis connection error (reconnecting): ${error.message}`);
  }
}

async function unlinkMatching(node: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    if (keys.length > 0) {
      // One UNLINK per key: a multi-key command would need every key in one cluster slot.
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.unlink(key);
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error !== null);
      if (failed) throw failed[0];
    }
  } while (cursor !== '0');
}

function wholeMs(ttlMs: number): number {
  return Math.max(1, Math.round(ttlMs));
}

/** Safe integers as decimal text (so INCRBY works on them); everything else V8-serialized. */
function encodeStored(value: unknown, key: string): Buffer | string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && !Object.is(value, -0)) return String(value);
  return encodeValue(value, key);
}

function decodeStored(bytes: Buffer, key: string): unknown {
  if (bytes.length > 0 && bytes[0] === V8_VERSION_TAG) {
    try {
      return decodeValue(bytes);
    } catch (error) {
      throw new CacheValueError(`Value of key '${key}' cannot be decoded: ${(error as Error).message}.`, {
        cause: error,
      });
    }
  }
  return parseNumber(bytes.toString('latin1'), key);
}

/** A number written by `incr` (INCRBY, INCRBYFLOAT) or by `set`; text from elsewhere is refused. */
function parseNumber(text: string, key: string): number | bigint {
  if (/^-?\d+$/.test(text)) {
    const number = Number(text);
    return Number.isSafeInteger(number) ? number : BigInt(text);
  }
  const number = text.trim() === '' ? NaN : Number(text);
  if (Number.isFinite(number)) return number;
  throw new CacheValueError(
    `Value of key '${key}' was not written by nestjs-caches (neither a serialized value nor a number); another client uses the same key.`,
  );
}
