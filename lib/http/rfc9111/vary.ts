// RFC 9111 §4.1: a stored response answers a request only if every field its Vary names has the
// same value in both requests, after normalising what the RFC allows: combining field lines,
// and whitespace around the elements of a list. `Vary: *` matches nothing.
import { listElements, TOKEN } from './field-lists.js';
import { fieldValue, type HeaderList } from './messages.js';

/** The field names a response varies on, lower-cased, or `'*'`. */
export function varyNames(responseHeaders: HeaderList): readonly string[] | '*' {
  const names = listElements(fieldValue(responseHeaders, 'vary')).map((name) => name.toLowerCase());
  if (names.includes('*')) return '*';
  return [...new Set(names.filter((name) => TOKEN.test(name)))];
}

/** Fields whose values are case-insensitive (RFC 9110 §12.5: tokens, language tags, charsets). */
const CASE_INSENSITIVE = new Set(['accept-encoding', 'accept-language', 'accept-charset']);

/**
 * A request field's value as it is compared: its lines combined, list elements trimmed and
 * joined by `, `, lower-cased where case means nothing; `undefined` when absent (absent and
 * empty differ). Order is kept: in Accept-Language without weights it is the preference.
 */
export function normalisedFieldValue(headers: HeaderList, name: string): string | undefined {
  const value = fieldValue(headers, name);
  if (value === undefined) return undefined;
  const joined = listElements(value).join(', ');
  return CASE_INSENSITIVE.has(name.toLowerCase()) ? joined.toLowerCase() : joined;
}

/** The values of the Vary fields of a request, to keep beside the response it brought. */
export function selectingFields(responseHeaders: HeaderList, requestHeaders: HeaderList): HeaderList | '*' {
  const names = varyNames(responseHeaders);
  if (names === '*') return '*';
  return names.flatMap((name) => {
    const value = normalisedFieldValue(requestHeaders, name);
    return value === undefined ? [] : [[name, value] as const];
  });
}

/** Whether a new request matches the selecting fields stored with a response (§4.1). */
export function varyMatches(
  storedResponseHeaders: HeaderList,
  storedRequestHeaders: HeaderList,
  requestHeaders: HeaderList,
): boolean {
  const names = varyNames(storedResponseHeaders);
  if (names === '*') return false;
  return names.every(
    (name) => normalisedFieldValue(storedRequestHeaders, name) === normalisedFieldValue(requestHeaders, name),
  );
}
