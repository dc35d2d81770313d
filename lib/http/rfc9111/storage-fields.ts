// RFC 9111 §3.1: the header fields a cache does not keep with a stored response. Connection and
// the fields it names, and the other hop-by-hop fields of RFC 9110 §7.6.1, describe one
// connection; the Proxy-* authentication fields belong to the proxy that forwarded the request;
// `no-cache="…"` and, for a shared cache, `private="…"` name fields not to reuse.
import { namedFields, parseCacheControl } from './cache-control.js';
import { listElements } from './field-lists.js';
import { fieldValue, withoutFields, type HeaderList } from './messages.js';

const NEVER_STORED = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authenticate',
  'proxy-authentication-info',
  'proxy-authorization',
];

/** The names, lower-cased, of the response's fields that are not stored. */
export function fieldsNotStored(headers: HeaderList): ReadonlySet<string> {
  const directives = parseCacheControl(headers);
  return new Set([
    ...NEVER_STORED,
    ...listElements(fieldValue(headers, 'connection')).map((name) => name.toLowerCase()),
    ...namedFields(directives.noCache),
    ...namedFields(directives.private),
  ]);
}

/** The response's fields as they are stored. */
export function fieldsToStore(headers: HeaderList): HeaderList {
  return withoutFields(headers, fieldsNotStored(headers));
}
