import { createHash } from 'node:crypto';
import { stableStringify } from '../core/stable-stringify.js';

/** A short, stable hash of a method's arguments: equal content gives equal hashes. */
export function hashArguments(args: readonly unknown[]): string {
  return createHash('md5').update(stableStringify(args)).digest('base64url');
}
