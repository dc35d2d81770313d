import { inspect } from 'node:util';

const MAX_LENGTH = 120;

/**
 * A value as an error message shows it. `String(value)` is not enough: it throws for objects whose
 * `toString` is not a function, and says only `[object Object]` for the rest.
 */
export function describeValue(value: unknown): string {
  let shown: string;
  try {
    shown =
      typeof value === 'string' ? `'${value}'` : inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5 });
  } catch {
    shown = `a value of type ${typeof value} that cannot be shown`; // a throwing util.inspect.custom
  }
  return shown.length > MAX_LENGTH ? `${shown.slice(0, MAX_LENGTH)}…` : shown;
}
