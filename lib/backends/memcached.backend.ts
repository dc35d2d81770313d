import memjs from 'memjs';
import type { Socket } from 'node:net';
import { unsafeCountError } from '../core/values.js';
import { describeValue } from '../core/describe-value.js';
import { CacheConfigError, CacheValueError } from '../core/errors.js';
import { checkOptionNames, integerOption } from '../core/resolve-config.js';
import { decodeValue, encodeValue } from '../core/serializer.js';
import type { TtlMs } from '../core/timeouts.js';
import { MISS, type CacheBackend, type EntryTally, type Miss } from '../interfaces/cache-backend.interface.js';
import type { BackendContext, ResolvedCacheEntry } from '../interfaces/cache-options.interface.js';
import { HashRing } from './hash-ring.js';
import { countItems } from './memcached-count.js';

type MemjsClient = memjs.Client<Buffer, Buffer | null>;

/** Memcached reads an expiration above 30 days as an absolute Unix time, not a number of seconds. */
const MAX_RELATIVE_EXPIRATION_SECONDS = 60 * 60 * 24 * 30;
/** V8's serializer always starts with its version tag; decimal text never does. */
const V8_VERSION_TAG = 0xff;
const OPCODE_INCREMENT = 0x05;
const OPCODE_DECREMENT = 0x06;
const STATUS_OK = 0x00;
const STATUS_KEY_NOT_FOUND = 0x01;
const STATUS_NON_NUMERIC = 0x06;
/** In an incr/decr request, this expiration means "do not create a missing key". */
const DO_NOT_CREATE = 0xffffffff;
const NON_NUMERIC: unique symbol = Symbol('non-numeric');

const OPTION_NAMES = ['retries', 'failover', 'keepAlive'];
const SERVER_PATTERN = /^(?:[^@\s,]+@)?[^@\s,:/]+(?::(\d{1,5}))?$/;

/**
 * Builds the memcached backend of an alias from its settings: `location` is one `'host:port'` or a
 * list of them; `options` may set `retries` (extra attempts after a failure, default 1), `failover`
 * (memjs moves keys of a failed server to the next one, default false) and `keepAlive`.
 */
export function createMemcachedBackend(entry: ResolvedCacheEntry, _context: BackendContext): MemcachedBackend {
  checkOptionNames(entry, OPTION_NAMES);
  const servers = serverList(entry);
  const retries = integerOption(entry, 'retries', 1, 0);
  const failover = booleanOption(entry, 'failover');
  const keepAlive = booleanOption(entry, 'keepAlive');
  const timeoutSeconds = entry.commandTimeoutMs / 1000;
  const client = memjs.Client.create(servers.join(','), {
    // memjs counts attempts, not retries; a refused connection fails at once, a silent server after
    // `timeout`, so a command settles within (retries + 1) × commandTimeoutMs plus 50 ms per retry.
    retries: retries + 1,
    retry_delay: 0.05,
    timeout: timeoutSeconds,
    conntimeout: timeoutSeconds,
    failover,
    keepAlive,
    logger: { log: () => undefined }, // failures reach Cache as errors, which logs them once per burst
  }) as MemjsClient;
  for (const server of client.servers) dropAbandonedSockets(server as unknown as MemjsServerInternals);
  // memjs spreads keys by `hash % servers`; a ring keeps most keys in place when servers change.
  const ring = new HashRing(servers);
  // @types/memjs says getServer returns a string; memjs 1.3 uses the number as an index.
  (client as unknown as { getServer(key: string): number }).getServer = (key) => ring.serverOf(key);
  return new MemcachedBackend(client);
}

/**
 * Django's memcached backend on memjs. Keys are spread over the servers by consistent hashing
 * (a ring of 160 points per server, as ketama), which replaces memjs's own `hash % servers`.
 *
 * Values are V8-serialized, except non-negative safe integers, stored as decimal text so that the
 * server's own `incr`/`decr` apply: atomic, and the expiry is kept. memjs 1.3 cannot set item flags,
 * so the two encodings are told apart by the first byte (V8's version tag, 0xFF, is never a digit).
 */
export class MemcachedBackend implements CacheBackend {
  readonly timesOutCommands = true;
  /** Memcached cannot store keys with spaces or control characters, nor longer than 250 bytes. */
  readonly rejectsUnsafeKeys = true;

  constructor(readonly client: MemjsClient) {}

  async get(key: string): Promise<unknown> {
    const value = await this.fetch(key);
    return value === MISS ? MISS : decode(value);
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    // memjs 1.3 has no multi-get; requests to one server are pipelined on its one connection.
    const values = await Promise.all(keys.map((key) => this.fetch(key)));
    return values.map((value) => (value === MISS ? MISS : decode(value)));
  }

  async set(key: string, value: unknown, ttlMs: TtlMs): Promise<void> {
    const payload = encode(value, key);
    try {
      await this.client.set(key, payload, { expires: expirationOf(ttlMs) });
    } catch (error) {
      throw await this.afterFailedStore(key, payload, error);
    }
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs): Promise<string[]> {
    const payloads = entries.map(([key, value]) => [key, encode(value, key)] as const);
    const expires = expirationOf(ttlMs);
    const results = await Promise.allSettled(
      payloads.map(async ([key, payload]) => {
        try {
          await this.client.set(key, payload, { expires });
        } catch (error) {
          throw await this.afterFailedStore(key, payload, error);
        }
      }),
    );
    const failed: string[] = [];
    const serverErrors: unknown[] = [];
    results.forEach((result, index) => {
      if (result.status === 'fulfilled') return;
      failed.push(payloads[index]![0]);
      if (!(result.reason instanceof CacheValueError)) serverErrors.push(result.reason);
    });
    // Some keys failing is what setMany reports; every key failing on the server is an outage.
    if (serverErrors.length > 0 && serverErrors.length === payloads.length) throw serverErrors[0];
    return failed;
  }

  async add(key: string, value: unknown, ttlMs: TtlMs): Promise<boolean> {
    const payload = encode(value, key);
    try {
      return await this.client.add(key, payload, { expires: expirationOf(ttlMs) });
    } catch (error) {
      if (isTooLarge(error)) throw tooLargeError(key, payload);
      throw error;
    }
  }

  /**
   * Server-side `incr`/`decr` on decimal values. As with Django on memcached, decrementing below 0
   * gives 0 (memcached clamps), and incrementing past 2^64 - 1 wraps. A result past
   * `Number.MAX_SAFE_INTEGER` is a `CacheValueError`, but memcached has counted it. Numbers memcached cannot
   * count (negative, fractional, BigInt) refuse with a `CacheValueError`, as do deltas that are not
   * whole numbers: there is no atomic way to change them and keep their expiry.
   */
  async incr(key: string, delta: number): Promise<number | bigint | Miss> {
    if (!Number.isSafeInteger(delta)) {
      throw new CacheValueError(`Cannot increment key '${key}' by ${delta}: memcached counts in whole numbers.`);
    }
    const result = await this.counter(key, delta >= 0 ? OPCODE_INCREMENT : OPCODE_DECREMENT, BigInt(Math.abs(delta)));
    if (result === MISS) return MISS;
    if (result === NON_NUMERIC) {
      const current = await this.get(key);
      if (current === MISS) return MISS;
      if (typeof current === 'number' || typeof current === 'bigint') {
        throw new CacheValueError(
          `Cannot increment key '${key}': its value ${describeValue(current)} is not a non-negative integer, the only numbers memcached increments.`,
        );
      }
      throw new CacheValueError(
        `Cannot increment key '${key}': its value is ${current === null ? 'null' : `a ${typeof current}`}, not a number.`,
      );
    }
    if (result > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw unsafeCountError(key, result, 'memcached has already stored it (get returns it as a BigInt)');
    }
    return Number(result);
  }

  async touch(key: string, ttlMs: TtlMs): Promise<boolean> {
    if (ttlMs !== null && ttlMs <= 0) return this.delete(key);
    return this.client.touch(key, expirationOf(ttlMs));
  }

  async delete(key: string): Promise<boolean> {
    return this.client.delete(key);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.client.delete(key)));
  }

  /**
   * Memcached cannot delete by prefix: as Django does, this is `flush_all` on every server, which
   * empties them for every alias and application that shares them.
   */
  async clear(): Promise<void> {
    await this.client.flush();
  }

  /** Items and bytes of each server: whole servers, every alias on them (`nestjs-caches stats`). */
  count(): Promise<EntryTally> {
    return countItems(this.client);
  }

  close(): void {
    this.client.close();
  }

  private fetch(key: string): Promise<Buffer | Miss> {
    return new Promise((resolve, reject) => {
      this.client.get(key, (error, value) => (error ? reject(error) : resolve(value ?? MISS)));
    });
  }

  /**
   * A store the server refused: a value over its item size limit is the caller's problem (a
   * `CacheValueError`), and the key is deleted so the previous value is not served as current.
   */
  private async afterFailedStore(key: string, payload: Buffer, error: unknown): Promise<unknown> {
    if (!isTooLarge(error)) return error;
    await this.client.delete(key).catch(() => undefined);
    return tooLargeError(key, payload);
  }

  /**
   * memjs's `increment` creates missing keys, takes 32-bit amounts and misreads results of 2^32
   * and more, so the binary protocol request is built here, through memjs's own `perform`.
   */
  private counter(key: string, opcode: number, amount: bigint): Promise<bigint | Miss | typeof NON_NUMERIC> {
    const extras = Buffer.alloc(20);
    extras.writeBigUInt64BE(amount, 0);
    extras.writeBigUInt64BE(0n, 8);
    extras.writeUInt32BE(DO_NOT_CREATE, 16);
    this.client.incrSeq();
    const seq = this.client.seq;
    const request = memjs.Utils.makeRequestBuffer(opcode, key, extras, '', seq);
    return new Promise((resolve, reject) => {
      this.client.perform(key, request, seq, (error: Error | null, response?: memjs.Response) => {
        if (error) return reject(error);
        switch (response!.header.status) {
          case STATUS_OK:
            return resolve(response!.val.readBigUInt64BE(0));
          case STATUS_KEY_NOT_FOUND:
            return resolve(MISS);
          case STATUS_NON_NUMERIC:
            return resolve(NON_NUMERIC);
          default:
            return reject(
              new Error(
                `memcached ${opcode === OPCODE_INCREMENT ? 'incr' : 'decr'} failed with status ${response!.header.status}`,
              ),
            );
        }
      });
    });
  }
}

interface MemjsServerInternals {
  _socket?: Socket;
  sock(sasl: boolean, go: (socket: Socket) => void): void;
}

/**
 * Works around a memjs 1.3 race: after a timeout it `end()`s the socket and opens a new one on the
 * next command, and when the old socket's 'close' arrives, memjs's handler clears the *new* socket's
 * reference and its request timeout, so that command hangs forever and the socket leaks. Here, a
 * socket memjs has let go of is detached from memjs and destroyed before the new one is opened.
 */
function dropAbandonedSockets(server: MemjsServerInternals): void {
  const open = new Set<Socket>();
  const sock = server.sock.bind(server);
  server.sock = (sasl, go) => {
    const before = server._socket;
    if (before === undefined) {
      for (const old of open) {
        old.removeAllListeners('close').removeAllListeners('data').removeAllListeners('error');
        old.on('error', () => undefined).destroy();
      }
      open.clear();
    }
    sock(sasl, go);
    const created = server._socket;
    if (created !== undefined && created !== before) {
      open.add(created);
      created.once('close', () => open.delete(created));
    }
  };
}

function encode(value: unknown, key: string): Buffer {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && !Object.is(value, -0)) {
    return Buffer.from(String(value), 'latin1');
  }
  return encodeValue(value, key);
}

/** V8 bytes, or decimal text (ours, possibly space-padded by a `decr` that shortened it). */
function decode(bytes: Buffer): unknown {
  if (bytes.length > 0 && bytes[0] === V8_VERSION_TAG) return decodeValue(bytes);
  const text = bytes.toString('latin1').trimEnd();
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    return Number.isSafeInteger(number) ? number : BigInt(text);
  }
  return Buffer.from(bytes); // written by another client: handed over as bytes
}

/**
 * Django's `get_backend_timeout` for memcached: whole seconds (rounded up, so a fraction never
 * becomes "forever"), 0 for never, and an absolute Unix time beyond 30 days.
 */
export function expirationOf(ttlMs: TtlMs, nowMs = Date.now()): number {
  if (ttlMs === null) return 0;
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  return seconds > MAX_RELATIVE_EXPIRATION_SECONDS ? Math.floor(nowMs / 1000) + seconds : seconds;
}

function isTooLarge(error: unknown): boolean {
  return error instanceof Error && error.message.endsWith('Value too large');
}

function tooLargeError(key: string, payload: Buffer): CacheValueError {
  return new CacheValueError(
    `Value for key '${key}' (${payload.length} bytes) is larger than the memcached server accepts (its item size limit, memcached -I, 1 MB by default); the key was deleted so no stale value is served. Cache less, or raise the server's limit.`,
  );
}

function serverList(entry: ResolvedCacheEntry): string[] {
  const field = `caches.${entry.alias}.location`;
  const raw = entry.location;
  const list =
    typeof raw === 'string'
      ? raw.split(',')
      : Array.isArray(raw) && raw.every((s) => typeof s === 'string')
        ? raw
        : null;
  if (list === null || list.length === 0) {
    throw new CacheConfigError(
      `${field}: the memcached backend needs its servers, as 'host:port' or a list, e.g. ['127.0.0.1:11211', '127.0.0.1:11212'].`,
    );
  }
  const servers = list.map((server) => server.trim());
  for (const server of servers) {
    const port = SERVER_PATTERN.exec(server)?.[1];
    const valid = SERVER_PATTERN.test(server) && (port === undefined || (Number(port) >= 1 && Number(port) <= 65535));
    if (!valid) {
      throw new CacheConfigError(
        `${field}: '${server}' is not a memcached server; use 'host:port', e.g. '127.0.0.1:11211'.`,
      );
    }
  }
  return servers;
}

function booleanOption(entry: ResolvedCacheEntry, name: string): boolean {
  const value = entry.options[name] ?? false;
  if (typeof value !== 'boolean') {
    throw new CacheConfigError(
      `caches.${entry.alias}.options.${name} must be true or false; got ${describeValue(value)}.`,
    );
  }
  return value;
}
