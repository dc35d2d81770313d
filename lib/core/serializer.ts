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
