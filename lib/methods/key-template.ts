import { CacheConfigError } from '../core/errors.js';
import { stableStringify } from '../core/stable-stringify.js';

type Part = string | { index: number; path: string[] };

const PLACEHOLDER = /\{(\d+)((?:\.[A-Za-z_$][\w$]*)*)\}/g;

/**
 * Compiles a key template once, at wiring: `{0}` is the first argument, `{1.id}` the `id` of the
 * second. Strings and numbers appear as they are; objects in their stable text form.
 *
 * @example compileKeyTemplate('recipe:{0}')([7]) === 'recipe:7'
 */
export function compileKeyTemplate(template: string): (args: readonly unknown[]) => string {
  const parts: Part[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push(template.slice(last, match.index));
    parts.push({ index: Number(match[1]), path: match[2] ? match[2].slice(1).split('.') : [] });
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  const leftover = parts.find((part) => typeof part === 'string' && /[{}]/.test(part));
  if (leftover !== undefined) {
    throw new CacheConfigError(
      `Cache key template '${template}' has a placeholder that is not {index} or {index.field}, e.g. 'recipe:{0}' or 'user:{1.id}'.`,
    );
  }
  // The common shapes get a function without a loop: a key is rendered on every call.
  if (parts.length === 1 && typeof parts[0] === 'string') {
    const constant = parts[0];
    return () => constant;
  }
  if (
    parts.length === 2 &&
    typeof parts[0] === 'string' &&
    typeof parts[1] === 'object' &&
    parts[1].path.length === 0
  ) {
    const [prefix, { index }] = parts as [string, { index: number }];
    return (args) => prefix + keyText(args[index]);
  }
  return (args) => {
    let key = '';
    for (const part of parts) key += typeof part === 'string' ? part : keyText(pick(args[part.index], part.path));
    return key;
  };
}

function pick(value: unknown, path: readonly string[]): unknown {
  for (const field of path) value = (value as Record<string, unknown> | null | undefined)?.[field];
  return value;
}

function keyText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : stableStringify(value);
}
