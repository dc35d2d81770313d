import { createHash } from 'node:crypto';
import { types } from 'node:util';
import { CacheValueError } from '../core/errors.js';
import { stableStringify } from '../core/stable-stringify.js';

/**
 * The key of a cached template fragment, exactly as Django's `make_template_fragment_key`:
 * `template.cache.<name>.<md5 of each vary-on value as text followed by ':'>`. Delete it to
 * refresh a fragment by hand.
 *
 * A value's text is `String(value)`, as Django's `str(value)`, so keys agree with Django's for
 * strings and integers. Arrays and objects without a text form of their own (plain objects,
 * Maps, Sets: `[object Object]` for all) use their content instead, so that two users' objects
 * never share a fragment.
 *
 * @example await cache.delete(makeTemplateFragmentKey('sidebar', [user.id]));
 */
export function makeTemplateFragmentKey(fragmentName: string, varyOn: Iterable<unknown> = []): string {
  const hasher = createHash('md5');
  let position = 0;
  for (const value of varyOn) hasher.update(`${varyText(value, ++position)}:`);
  return `template.cache.${fragmentName}.${hasher.digest('hex')}`;
}

function varyText(value: unknown, position: number): string {
  if (typeof value !== 'object' || value === null || hasOwnTextForm(value)) return String(value);
  let text: string;
  try {
    text = stableStringify(value);
  } catch {
    throw new CacheValueError(
      `Vary-on value #${position} of a template fragment cannot be made into a key: it holds a cycle, a function or a symbol. Vary on an id or another plain value instead.`,
    );
  }
  // A class instance whose state is out of sight (private fields, getters) would give every
  // instance the same key.
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (text === '{}' && prototype !== Object.prototype && prototype !== null) {
    throw new CacheValueError(
      `Vary-on value #${position} of a template fragment shows no content to key on (a class instance whose state is private): vary on its id instead.`,
    );
  }
  return text;
}

/** Whether `String(value)` tells values apart: a Date or a class with its own `toString` does, an array or plain object does not. */
function hasOwnTextForm(value: object): boolean {
  if (Array.isArray(value) || ArrayBuffer.isView(value) || types.isMap(value) || types.isSet(value)) return false;
  const toString = (value as { toString?: unknown }).toString;
  return typeof toString === 'function' && toString !== Object.prototype.toString;
}
