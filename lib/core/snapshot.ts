import { decodeValue, encodeValue, isPlainObject } from './serializer.js';

/**
 * A private copy of a value, made once when it is stored. Plain data (objects, arrays,
 * primitives) is copied and deep-frozen, and handed out as is: a read costs nothing and nobody
 * can change it. Values holding anything else (Map, Set, Date, Buffer, typed arrays, class
 * instances) are kept serialized and decoded on each read instead.
 */
export interface Snapshot {
  readonly frozen: unknown;
  readonly bytes: Buffer | undefined;
}

export function takeSnapshot(value: unknown, key: string): Snapshot {
  if (value === null || typeof value !== 'object') {
    if (typeof value !== 'function' && typeof value !== 'symbol') return { frozen: value, bytes: undefined };
  } else {
    const copy = frozenCopyOfPlainData(value, new Map());
    if (copy !== NOT_PLAIN) return { frozen: copy, bytes: undefined };
  }
  // Serializing also rejects what cannot be stored (functions, symbols) with a CacheValueError.
  return { frozen: undefined, bytes: encodeValue(value, key) };
}

export function readSnapshot(snapshot: Snapshot): unknown {
  return snapshot.bytes === undefined ? snapshot.frozen : decodeValue(snapshot.bytes);
}

const NOT_PLAIN = Symbol('not plain data');

/**
 * Copies a graph of plain objects and arrays, freezing each copy; `NOT_PLAIN` as soon as it
 * meets anything else. A walk in JavaScript costs a fraction of serializing and decoding, and
 * keeps shared and cyclic references as they were.
 */
function frozenCopyOfPlainData(value: object, copies: Map<object, object>): unknown {
  const known = copies.get(value);
  if (known !== undefined) return known;
  let copy: Record<string, unknown> | unknown[];
  if (Array.isArray(value)) {
    copy = new Array<unknown>(value.length);
    copies.set(value, copy);
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return NOT_PLAIN; // holes: leave sparse arrays to the serializer
      const item = copyItem(value[i], copies);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy[i] = item;
    }
  } else {
    if (!isPlainObject(value)) return NOT_PLAIN;
    copy = {};
    copies.set(value, copy);
    for (const key of Object.keys(value)) {
      const item = copyItem((value as Record<string, unknown>)[key], copies);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      // An own `__proto__` key (from JSON.parse, say) must stay data: assigning it sets the prototype.
      if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true });
      else copy[key] = item;
    }
  }
  return Object.freeze(copy);
}

function copyItem(item: unknown, copies: Map<object, object>): unknown {
  if (item === null) return null;
  switch (typeof item) {
    case 'object':
      return frozenCopyOfPlainData(item, copies);
    case 'function':
    case 'symbol':
      return NOT_PLAIN;
    default:
      return item;
  }
}
