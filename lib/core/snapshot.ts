import { decodeValue, encodeValue } from './serializer.js';

/**
 * A private copy of a value, made once when it is stored. Plain data (objects, arrays,
 * primitives) is deep-frozen and handed out as is: a read costs nothing and nobody can change
 * it. Values holding mutable built-ins that cannot be frozen (Map, Set, Date, Buffer, typed
 * arrays) are kept serialized and decoded on each read instead.
 */
export interface Snapshot {
  readonly frozen: unknown;
  readonly bytes: Buffer | undefined;
}

export function takeSnapshot(value: unknown, key: string): Snapshot {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')) {
    return { frozen: value, bytes: undefined };
  }
  const bytes = encodeValue(value, key);
  const copy = decodeValue(bytes);
  return deepFreezePlainData(copy, new Set()) ? { frozen: copy, bytes: undefined } : { frozen: undefined, bytes };
}

export function readSnapshot(snapshot: Snapshot): unknown {
  return snapshot.bytes === undefined ? snapshot.frozen : decodeValue(snapshot.bytes);
}

/** Freezes a graph of plain objects and arrays; `false` as soon as it meets anything else. */
function deepFreezePlainData(value: unknown, seen: Set<object>): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (seen.has(value)) return true;
  if (!Array.isArray(value) && !isPlainObject(value)) return false;
  seen.add(value);
  for (const key of Object.keys(value)) {
    if (!deepFreezePlainData((value as Record<string, unknown>)[key], seen)) return false;
  }
  Object.freeze(value);
  return true;
}

/** An object literal's shape; checked without `Object.prototype` identity, which differs per realm. */
function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}
