/** Header fields in the order they arrived, names as sent: a field may appear on several lines. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** A request as the RFC 9111 rules see it. */
export interface CacheRequest {
  method: string;
  /** The target URI, absolute (`http://host/path?query`): invalidation compares origins. */
  url: string;
  headers: HeaderList;
}

/** A response as the RFC 9111 rules see it, with the clock readings §4.2.3 counts age from. */
export interface CacheResponse {
  status: number;
  headers: HeaderList;
  /** When the request that brought this response was sent (ms since the epoch): `request_time`. */
  requestedAt: number;
  /** When this response arrived (ms since the epoch): `response_time`. */
  receivedAt: number;
}

/**
 * One field's value, its lines combined with `, ` as RFC 9110 §5.3 allows for a list;
 * `undefined` when the field is absent.
 */
export function fieldValue(headers: HeaderList, name: string): string | undefined {
  const wanted = name.toLowerCase();
  let combined: string | undefined;
  for (const [field, value] of headers) {
    if (field.toLowerCase() === wanted) combined = combined === undefined ? value : `${combined}, ${value}`;
  }
  return combined;
}

/** The value of a singleton field: its first line (later lines are a sender's error). */
export function firstFieldValue(headers: HeaderList, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return headers.find(([field]) => field.toLowerCase() === wanted)?.[1];
}

export function hasField(headers: HeaderList, name: string): boolean {
  return firstFieldValue(headers, name) !== undefined;
}

/** The list without the fields named (case-insensitively) in `names`. */
export function withoutFields(headers: HeaderList, names: ReadonlySet<string>): HeaderList {
  return headers.filter(([field]) => !names.has(field.toLowerCase()));
}
