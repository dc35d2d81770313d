import { types } from 'node:util';
import { CacheValueError } from './errors.js';

/**
 * A text form of a value in which objects with the same content are equal whatever the order of
 * their keys (and of Map and Set entries). Properties holding `undefined` are left out, as in
 * JSON, so an optional field left unset and one never set hash the same.
 */
export function stableStringify(value: unknown, ancestors: unknown[] = []): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'symbol':
    case 'function':
      throw new CacheValueError(`A ${typeof value} argument cannot be part of a cache key; give the decorator a key.`);
  }
  if (value === null) return 'null';
  if (ancestors.includes(value)) {
    throw new CacheValueError('A cyclic argument cannot be part of a cache key; give the decorator a key.');
  }
  ancestors.push(value);
  try {
    return stringifyObject(value as object, ancestors);
  } finally {
    ancestors.pop();
  }
}

function stringifyObject(value: object, ancestors: unknown[]): string {
  const nested = (item: unknown) => stableStringify(item, ancestors);
  if (Array.isArray(value)) return `[${value.map(nested).join(',')}]`;
  // util.types rather than instanceof: values may come from another realm (vm, Jest).
  if (types.isDate(value)) return `Date(${(value as Date).getTime()})`;
  if (types.isMap(value)) {
    const entries = [...(value as Map<unknown, unknown>)].map(([k, v]) => `${nested(k)}=>${nested(v)}`);
    return `Map{${entries.sort().join(',')}}`;
  }
  if (types.isSet(value)) return `Set{${[...(value as Set<unknown>)].map(nested).sort().join(',')}}`;
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return `${value.constructor.name}(${bytes.toString('base64')})`;
  }
  const fields = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${nested((value as Record<string, unknown>)[key])}`);
  return `{${fields.join(',')}}`;
}
