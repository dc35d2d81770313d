import { CacheConfigError } from './errors.js';

/**
 * The one message for a misspelt or unsupported field anywhere in the configuration: the path,
 * the field, and the fields that would have been understood.
 */
export function unknownFieldError(
  where: string,
  name: string,
  known: readonly string[],
  what = 'an option',
  hint = '',
): CacheConfigError {
  const fix = hint === '' ? '' : ` ${hint}`;
  return new CacheConfigError(`${where}.${name} is not ${what}; known: ${known.join(', ') || 'none'}.${fix}`);
}

/** Refuses the first field of `value` not in `known`, so a misspelt one does not pass unnoticed. */
export function checkKnownFields(
  value: object,
  known: readonly string[],
  where: string,
  what?: string,
  hint?: string,
): void {
  for (const name of Object.keys(value)) {
    if (!known.includes(name)) throw unknownFieldError(where, name, known, what, hint);
  }
}
