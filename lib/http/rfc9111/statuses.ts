// Which status codes a cache may keep (RFC 9110 §15, RFC 9111 §3).

/** RFC 9110 §15.1: reusable with heuristic freshness, when the response says nothing itself. */
export const HEURISTICALLY_CACHEABLE = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);

/**
 * The final status codes RFC 9110 defines: what this cache "understands" for `must-understand`
 * (RFC 9111 §5.2.2.3). 206 and 304 are among them but are never stored here: this cache keeps
 * no partial content, and a 304 is an update of a stored response (§4.3.4), not one to store.
 */
const UNDERSTOOD = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407,
  408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505,
]);

export function isUnderstood(status: number): boolean {
  return UNDERSTOOD.has(status);
}

/** §3: a final response, which this cache can keep whole. */
export function isStorableStatus(status: number): boolean {
  return status >= 200 && status <= 599 && status !== 206 && status !== 304;
}
