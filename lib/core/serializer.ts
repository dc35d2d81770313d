import { deserialize, serialize } from 'node:v8';
import { CacheValueError } from './errors.js';

/**
 * Encodes a value with V8's structured serialization: what `structuredClone` can hold, plus
 * Buffers that come back as Buffers. Class instances come back as plain objects, as with
 * `structuredClone`; functions and symbols are refused.
 */
export function encodeValue(value: unknown, key: string): Buffer {
  try {
    return serialize(value);
  } catch (error) {
    throw new CacheValueError(
      `Value for key '${key}' cannot be serialized (${(error as Error).message}). Cache plain data: objects, arrays, strings, numbers, Date, Map, Set, Buffer, BigInt; no functions or symbols.`,
      { cause: error },
    );
  }
}

export function decodeValue(bytes: Uint8Array): unknown {
  return deserialize(bytes);
}

// Deeper values (or cycles) take V8's serializer, which keeps them exactly.
const MAX_JSON_DEPTH = 32;

/**
 * Whether `JSON.parse(JSON.stringify(value))` gives back what structured clone would: strings,
 * booleans, null, finite numbers (not -0), dense arrays and plain objects of those. JSON is several
 * times cheaper than V8's serializer for such values, so text stores may keep them as JSON.
 */
export function isJsonExact(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_JSON_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!(i in value) || !isJsonExact(value[i], depth + 1)) return false;
        return true;
      }
      if (!isPlainObject(value)) return false;
      for (const key of Object.keys(value)) {
        // An own `__proto__` key is rare and easy to turn into a prototype: V8 keeps it exactly.
        if (key === '__proto__' || !isJsonExact((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** An object literal's shape; checked without `Object.prototype` identity, which differs per realm. */
export function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value) as object | null;
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}
