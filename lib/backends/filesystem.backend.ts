import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addDelta } from '../core/values.js';
import { decodeValue, encodeValue } from '../core/serializer.js';
import type { TtlMs } from '../core/timeouts.js';
import { MISS, type CacheBackend, type EntryTally, type Miss } from '../interfaces/cache-backend.interface.js';
import { countFiles } from './count-files.js';
import { EntryCount } from './entry-count.js';

export interface FileSystemOptions {
  maxEntries: number;
  cullFrequency: number;
}

const EXTENSION = '.ncache';
const TEMP_EXTENSION = '.ncache-tmp';
const MAGIC = Buffer.from('NCF1');
// magic, expiry (float64, Infinity = never), length of the made key (uint32), then the key itself:
// a file whose recorded key is not the one asked for (a hash collision) is never served.
const HEADER_BYTES = MAGIC.length + 8 + 4;

interface StoredFile {
  expiresAt: number;
  payload: Buffer;
}

/**
 * One file per key, named by the SHA-256 of the made key. Every write goes to a temporary file
 * that is then linked into place, or renamed over the key's file when there is one, so readers
 * (in any process) see the old file or the new one, never half of one. `add` only links, which
 * fails if the key exists: atomic across processes. The number of files is kept between listings
 * (see `EntryCount`), so a write does not list the directory.
 */
export class FileSystemBackend implements CacheBackend {
  private readonly files: EntryCount;

  constructor(
    private readonly directory: string,
    private readonly options: FileSystemOptions,
  ) {
    this.files = new EntryCount(options.maxEntries);
  }

  async get(key: string): Promise<unknown> {
    const stored = await this.read(key);
    return stored === undefined ? MISS : decodeValue(stored.payload);
  }

  async has(key: string): Promise<boolean> {
    return (await this.read(key)) !== undefined;
  }

  getMany(keys: readonly string[]): Promise<unknown[]> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async set(key: string, value: unknown, ttlMs: TtlMs): Promise<void> {
    const payload = encodeValue(value, key);
    await this.cull();
    await this.replace(key, expiryOf(ttlMs), payload);
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, ttlMs: TtlMs): Promise<string[]> {
    const payloads = entries.map(([key, value]) => [key, encodeValue(value, key)] as const);
    await this.cull();
    const expiresAt = expiryOf(ttlMs);
    await Promise.all(payloads.map(([key, payload]) => this.replace(key, expiresAt, payload)));
    return [];
  }

  async add(key: string, value: unknown, ttlMs: TtlMs): Promise<boolean> {
    const payload = encodeValue(value, key);
    await this.cull();
    const temp = await this.writeTemp(key, expiryOf(ttlMs), payload);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await link(temp, this.pathOf(key));
          this.files.added();
          return true;
        } catch (error) {
          if (code(error) !== 'EEXIST') throw error;
          // An expired file does not count as present: remove it and try once more.
          if ((await this.read(key)) !== undefined) return false;
        }
      }
      return false;
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async incr(key: string, delta: number): Promise<number | bigint | Miss> {
    const stored = await this.read(key);
    if (stored === undefined) return MISS;
    const next = addDelta(decodeValue(stored.payload), delta, key);
    await this.write(key, stored.expiresAt, encodeValue(next, key));
    return next;
  }

  async touch(key: string, ttlMs: TtlMs): Promise<boolean> {
    const stored = await this.read(key);
    if (stored === undefined) return false;
    if (ttlMs !== null && ttlMs <= 0) await this.delete(key);
    else await this.write(key, expiryOf(ttlMs), stored.payload);
    return true;
  }

  /** `true` only when a live entry went: an expired file is removed too, but was already gone to callers. */
  async delete(key: string): Promise<boolean> {
    return (await this.read(key)) !== undefined && this.remove(this.pathOf(key));
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.remove(this.pathOf(key))));
  }

  /** Its cache files and their bytes, expired ones included until culled (`nestjs-caches stats`). */
  count(): Promise<EntryTally> {
    return countFiles(this.directory, EXTENSION);
  }

  /** Removes this cache's files only: other files in the directory are left alone. */
  async clear(): Promise<void> {
    const files = await this.ownFiles(true);
    await Promise.all(files.map((name) => removeFile(join(this.directory, name))));
    this.files.counted(0);
  }

  private pathOf(key: string): string {
    return join(this.directory, createHash('sha256').update(key).digest('hex') + EXTENSION);
  }

  private async read(key: string): Promise<StoredFile | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(key));
    } catch (error) {
      if (code(error) === 'ENOENT') return undefined;
      throw error;
    }
    const stored = parse(bytes, key);
    if (stored === undefined) return undefined;
    if (stored.expiresAt <= Date.now()) {
      await this.remove(this.pathOf(key));
      return undefined;
    }
    return stored;
  }

  /**
   * A new value's write. When it fails (a full disk), the key's old file is removed too, so that
   * the value the caller meant to replace is not read afterwards as if it were current (callers
   * that ignore errors see a miss). A read-only directory lets nothing be removed: there the old
   * value stays until it expires.
   */
  private async replace(key: string, expiresAt: number, payload: Buffer): Promise<void> {
    try {
      await this.write(key, expiresAt, payload);
    } catch (error) {
      await this.remove(this.pathOf(key)).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Puts a complete temporary file in the key's place: readers see the old file or the new one.
   * A link, which fails over an existing file, tells a new file (counted) from a replaced one
   * (renamed over it).
   */
  private async write(key: string, expiresAt: number, payload: Buffer): Promise<void> {
    const temp = await this.writeTemp(key, expiresAt, payload);
    let created: boolean;
    try {
      created = await linkOrRename(temp, this.pathOf(key));
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    if (created) this.files.added();
  }

  /** Writes a complete file under a unique temporary name, creating the directory if needed. */
  private async writeTemp(key: string, expiresAt: number, payload: Buffer): Promise<string> {
    const temp = join(this.directory, `${randomBytes(12).toString('hex')}${TEMP_EXTENSION}`);
    const contents = serializeFile(key, expiresAt, payload);
    try {
      await writeWhole(temp, contents);
    } catch (error) {
      if (code(error) !== 'ENOENT') throw error;
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
      await writeWhole(temp, contents);
    }
    return temp;
  }

  /**
   * Django's rule: at `maxEntries` files, remove a random `1 / cullFrequency` of them (`0`: all),
   * decided on a listing only when the kept count is due for one; concurrent writes share it.
   */
  private cull(): Promise<void> {
    return this.files.beforeWrite(() => this.listAndCull());
  }

  private async listAndCull(): Promise<void> {
    const files = await this.ownFiles(false);
    this.files.counted(files.length);
    if (files.length < this.options.maxEntries) return;
    if (this.options.cullFrequency === 0) return this.clear();
    const victims = sample(files, Math.floor(files.length / this.options.cullFrequency));
    await Promise.all(victims.map((name) => this.remove(join(this.directory, name))));
  }

  /** Removes a file this cache counts; `false` when it was already gone. */
  private async remove(path: string): Promise<boolean> {
    const removed = await removeFile(path);
    if (removed) this.files.removed();
    return removed;
  }

  private async ownFiles(includeTemporary: boolean): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (error) {
      if (code(error) === 'ENOENT') return [];
      throw error;
    }
    return names.filter((name) => name.endsWith(EXTENSION) || (includeTemporary && name.endsWith(TEMP_EXTENSION)));
  }
}

function expiryOf(ttlMs: TtlMs): number {
  return ttlMs === null ? Infinity : Date.now() + ttlMs;
}

function serializeFile(key: string, expiresAt: number, payload: Buffer): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeDoubleLE(expiresAt, MAGIC.length);
  header.writeUInt32LE(keyBytes.length, MAGIC.length + 8);
  return Buffer.concat([header, keyBytes, payload]);
}

/** The file's expiry and payload, or `undefined` for a file that is not ours or not this key's. */
function parse(bytes: Buffer, key: string): StoredFile | undefined {
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const expiresAt = bytes.readDoubleLE(MAGIC.length);
  const keyLength = bytes.readUInt32LE(MAGIC.length + 8);
  const payloadStart = HEADER_BYTES + keyLength;
  if (bytes.length < payloadStart || bytes.toString('utf8', HEADER_BYTES, payloadStart) !== key) return undefined;
  return { expiresAt, payload: bytes.subarray(payloadStart) };
}

/** Writes a file, or leaves none: a write cut short (ENOSPC part-way) removes what it wrote. */
async function writeWhole(path: string, contents: Buffer): Promise<void> {
  try {
    await writeFile(path, contents, { mode: 0o600 });
  } catch (error) {
    await unlink(path).catch(() => undefined);
    throw error;
  }
}

/** Puts `temp` at `path`: linked where there was no file (`true`), else renamed over the file (`false`). */
async function linkOrRename(temp: string, path: string): Promise<boolean> {
  try {
    await link(temp, path);
  } catch (error) {
    if (code(error) !== 'EEXIST') throw error;
    await rename(temp, path);
    return false;
  }
  await unlink(temp).catch(() => undefined);
  return true;
}

async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (code(error) === 'ENOENT') return false;
    throw error;
  }
}

function sample<T>(items: T[], count: number): T[] {
  const pool = [...items];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException)?.code;
}
