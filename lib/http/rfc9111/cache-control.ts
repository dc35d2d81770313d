// RFC 9111 §5.2: Cache-Control is a list of directives, `name` or `name=value`, the value a token
// or a quoted string; names are case-insensitive. Lines of the field combine into one list.
import { fieldNames, listElements, unquote } from './field-lists.js';
import { fieldValue, type HeaderList } from './messages.js';

/** §1.2.2: the largest delta-seconds a cache needs; larger values (and overflows) become it. */
export const MAX_DELTA_SECONDS = 2_147_483_648;

/**
 * A delta-seconds directive: seconds, or `'invalid'` when the directive is there with a value that
 * is not a non-negative integer (§4.2.1: such a response is treated as stale, the safe reading).
 */
export type DeltaSeconds = number | 'invalid';

/** A directive that may name fields (`no-cache="Set-Cookie"`): all of the response, or those fields. */
export type FieldScope = { fields: 'all' } | { fields: readonly string[] };

/** A Cache-Control field as data: every directive RFC 9111 and RFC 5861 define, and the rest by name. */
export interface CacheDirectives {
  noStore: boolean;
  noCache: FieldScope | undefined;
  private: FieldScope | undefined;
  public: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  mustUnderstand: boolean;
  noTransform: boolean;
  onlyIfCached: boolean;
  maxAge: DeltaSeconds | undefined;
  sMaxage: DeltaSeconds | undefined;
  minFresh: DeltaSeconds | undefined;
  /** `max-stale` without a value accepts a response stale by any amount. */
  maxStale: DeltaSeconds | 'any' | undefined;
  staleWhileRevalidate: DeltaSeconds | undefined;
  staleIfError: DeltaSeconds | undefined;
  /**
   * Every directive by lower-cased name, value unquoted (`true` for none), first occurrence kept
   * (`noCache` and `private` count every occurrence).
   */
  all: ReadonlyMap<string, string | true>;
}

const DIRECTIVE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)(?:=(.*))?$/s;

/** The directives of a message's Cache-Control lines (none for an absent field). */
export function parseCacheControl(headers: HeaderList): CacheDirectives {
  return directivesOf(fieldValue(headers, 'cache-control'));
}

/** The directives of one Cache-Control value. */
export function directivesOf(value: string | undefined): CacheDirectives {
  const all = new Map<string, string | true>();
  const scopes = new Map<string, FieldScope>();
  for (const element of listElements(value)) {
    // `max-age =60` or `max-age= 60` is no directive of that name: a token touches its `=`.
    const match = DIRECTIVE.exec(element);
    if (!match) continue;
    const name = match[1]!.toLowerCase();
    const raw = match[2];
    const directive = raw === undefined ? true : unquote(raw);
    // §5.2: of conflicting directives the most restrictive is honoured, so every occurrence of a
    // scoped one counts: the unqualified form wins, qualified ones add up their fields.
    if (SCOPED.has(name)) scopes.set(name, widest(scopes.get(name), scopeOf(directive)));
    if (all.has(name)) continue; // §4.2.1: the first occurrence is used
    all.set(name, directive);
  }
  return {
    noStore: all.has('no-store'),
    noCache: scopes.get('no-cache'),
    private: scopes.get('private'),
    public: all.has('public'),
    mustRevalidate: all.has('must-revalidate'),
    proxyRevalidate: all.has('proxy-revalidate'),
    mustUnderstand: all.has('must-understand'),
    noTransform: all.has('no-transform'),
    onlyIfCached: all.has('only-if-cached'),
    maxAge: seconds(all.get('max-age')),
    sMaxage: seconds(all.get('s-maxage')),
    minFresh: seconds(all.get('min-fresh')),
    maxStale: all.get('max-stale') === true ? 'any' : seconds(all.get('max-stale')),
    staleWhileRevalidate: seconds(all.get('stale-while-revalidate')),
    staleIfError: seconds(all.get('stale-if-error')),
    all,
  };
}

/** The directives that may name fields (§5.2.2.4, §5.2.2.7). */
const SCOPED = new Set(['no-cache', 'private']);

function scopeOf(value: string | true): FieldScope {
  if (value === true) return { fields: 'all' };
  const names = fieldNames(value);
  // A value that names no field is read as the unqualified directive: the stricter of the two.
  return names.length === 0 ? { fields: 'all' } : { fields: names };
}

function widest(known: FieldScope | undefined, next: FieldScope): FieldScope {
  if (known === undefined) return next;
  if (known.fields === 'all' || next.fields === 'all') return { fields: 'all' };
  return { fields: [...new Set([...known.fields, ...next.fields])] };
}

/** §1.2.2 delta-seconds: digits only (leading zeros allowed), capped at 2^31. */
export function seconds(value: string | true | undefined): DeltaSeconds | undefined {
  if (value === undefined) return undefined;
  if (value === true || !/^\d+$/.test(value)) return 'invalid';
  return Math.min(Number(value), MAX_DELTA_SECONDS);
}

/** Whether a scope covers the whole response rather than some fields of it. */
export function coversAll(scope: FieldScope | undefined): boolean {
  return scope !== undefined && scope.fields === 'all';
}

/** The fields a scope names, lower-cased; none for an unqualified or absent directive. */
export function namedFields(scope: FieldScope | undefined): readonly string[] {
  return scope === undefined || scope.fields === 'all' ? [] : scope.fields;
}
