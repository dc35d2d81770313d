// RFC 9110 §5.6.1: a list field is elements separated by commas with optional whitespace around
// them; a recipient ignores empty elements. Commas inside a quoted string (§5.6.4) separate nothing.

const OWS = /^[ \t]+|[ \t]+$/g;
/** RFC 9110 §5.6.2 `token`. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The elements of a list field's value, trimmed, empty ones dropped, quoted strings kept whole. */
export function listElements(value: string | undefined): string[] {
  if (value === undefined) return [];
  const elements: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (quoted && char === '\\' && i + 1 < value.length) {
      current += char + value[++i]!;
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === ',' && !quoted) {
      elements.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  elements.push(current);
  return elements.map((element) => element.replace(OWS, '')).filter((element) => element.length > 0);
}

/** The text of a quoted string (`"a\"b"` is `a"b`); a value that is not one comes back as it is. */
export function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Field names listed in a value (`no-cache="Set-Cookie, X-Foo"`), lower-cased; non-tokens dropped. */
export function fieldNames(value: string): string[] {
  return listElements(unquote(value))
    .filter((name) => TOKEN.test(name))
    .map((name) => name.toLowerCase());
}
