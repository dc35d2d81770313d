import { describeValue } from '../core/describe-value.js';
import { CacheConfigError, CacheError, CacheKeyError, CacheValueError } from '../core/errors.js';
import type { Caches } from '../caches.js';
import { FragmentCache } from './fragment-cache.js';

// The parts of Nunjucks' extension API used here, written out so that Nunjucks stays optional.
interface Token {
  value: string;
  lineno: number;
  colno: number;
}
interface Parser {
  nextToken(): Token;
  parseSignature(tolerant: null, noParens: true): { children: unknown[] };
  advanceAfterBlockEnd(name?: string): void;
  parseUntilBlocks(...names: string[]): unknown;
  fail(message: string, lineno?: number, colno?: number): never;
}
interface Nodes {
  CallExtensionAsync: new (extension: object, method: string, args: unknown, contentArgs: unknown[]) => unknown;
}
type Done = (error: Error | null, output?: unknown) => void;
type Body = (done: Done) => void;

/** Where a template engine's extensions are added (`nunjucks.Environment`). */
export interface NunjucksEnvironment {
  addExtension(name: string, extension: object): unknown;
  /** Nunjucks' own: its `safe` filter marks the fragment as markup for this very copy of Nunjucks. */
  getFilter?(name: string): (value: string) => unknown;
}

const TAG = 'cache';

/**
 * Adds Django's `{% cache %}` tag to a Nunjucks environment:
 * `{% cache 500, "sidebar", user.id %}…{% endcache %}`; the timeout may be a variable or `none`
 * (forever), and `using="alias"` picks the store (else `template_fragments` if configured, else
 * `default`).
 *
 * @example registerNunjucksCache(nunjucks.configure('views', { express: app.getHttpAdapter().getInstance() }), app.get(Caches));
 */
export function registerNunjucksCache(environment: NunjucksEnvironment, caches: Caches): void {
  // The body was rendered (and its values escaped) already: under autoescape, Nunjucks would
  // escape the whole fragment a second time unless it is marked safe.
  const safe = environment.getFilter?.('safe');
  const markSafe = safe ? (output: string) => safe(output) : (output: string) => output;
  environment.addExtension('NestjsCachesFragmentTag', new NunjucksCacheTag(new FragmentCache(caches), markSafe));
}

class NunjucksCacheTag {
  readonly tags = [TAG];

  constructor(
    private readonly fragments: FragmentCache,
    private readonly markSafe: (output: string) => unknown,
  ) {}

  parse(parser: Parser, nodes: Nodes): unknown {
    const start = parser.nextToken();
    const args = parser.parseSignature(null, true);
    if (args.children.filter((child) => !isKeywordNode(child)).length < 2) {
      parser.fail(
        `{% ${TAG} %} takes a timeout and a fragment name, then values to vary on: {% ${TAG} 500, "sidebar", user.id %}`,
        start.lineno,
        start.colno,
      );
    }
    parser.advanceAfterBlockEnd(start.value);
    const body = parser.parseUntilBlocks(`end${TAG}`);
    parser.advanceAfterBlockEnd();
    return new nodes.CallExtensionAsync(this, 'run', args, [body]);
  }

  /** Called by Nunjucks with the evaluated arguments, then the body and the callback. */
  run(_context: unknown, ...args: unknown[]): void {
    const done = args.pop() as Done;
    const body = args.pop() as Body;
    const keywords = isKeywords(args.at(-1)) ? (args.pop() as Record<string, unknown>) : {};
    let rendering: Promise<string>;
    try {
      const [timeout, name, ...varyOn] = args;
      const using = usingOf(keywords);
      if (using !== undefined) aliasNamedBy(this.fragments, using);
      rendering = this.fragments.render(fragmentName(name), varyOn, timeoutOf(timeout), () => renderBody(body), {
        cache: using,
      });
    } catch (error) {
      done(tagError(error));
      return;
    }
    rendering.then(
      (output) => done(null, this.markSafe(output)),
      (error: Error) => done(error),
    );
  }
}

/**
 * An error that does not name the tag yet (an unknown alias, a vary-on value) gets the tag's name
 * in front, and keeps its class (Nunjucks shows the class name in its message).
 */
function tagError(error: unknown): Error {
  const message = (error as Error)?.message ?? String(error);
  if (message.startsWith(`{% ${TAG} %}`)) return error as Error;
  const Type = error instanceof CacheError ? (error.constructor as typeof CacheError) : CacheError;
  return new Type(`{% ${TAG} %}: ${message}`, { cause: error });
}

function renderBody(body: Body): Promise<string> {
  return new Promise((resolve, reject) =>
    body((error, output) => (error ? reject(error) : resolve(output === undefined ? '' : String(output)))),
  );
}

/** Django's rule: `None` is forever, anything else must read as a whole number of seconds. */
function timeoutOf(value: unknown): number | null {
  if (value === null) return null;
  const seconds = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    throw new CacheValueError(
      `{% ${TAG} %} got a timeout that is not a whole number of seconds or none: ${describe(value)}. Write {% ${TAG} 500, "name" %} or {% ${TAG} none, "name" %}.`,
    );
  }
  return Math.trunc(seconds);
}

function fragmentName(value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new CacheKeyError(
      `{% ${TAG} %} needs a fragment name (a non-empty string) after the timeout; got ${describe(value)}. Write {% ${TAG} 500, "sidebar" %}.`,
    );
  }
  return value;
}

function usingOf(keywords: Record<string, unknown>): string | undefined {
  for (const name of Object.keys(keywords)) {
    if (name !== '__keywords' && name !== 'using') {
      throw new CacheConfigError(`{% ${TAG} %} has no argument '${name}'; the only keyword is using="alias".`);
    }
  }
  const using = keywords.using;
  if (using !== undefined && (typeof using !== 'string' || using === '')) {
    throw new CacheConfigError(
      `{% ${TAG} %} using= takes the name of a cache alias; got ${describe(using)}. Write using="default".`,
    );
  }
  return using as string | undefined;
}

function aliasNamedBy(fragments: FragmentCache, using: string): void {
  try {
    fragments.aliasFor(using);
  } catch (error) {
    throw new CacheConfigError(`{% ${TAG} %} using="${using}": ${(error as Error).message}`, { cause: error });
  }
}

function isKeywords(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { __keywords?: boolean }).__keywords === true;
}

function isKeywordNode(node: unknown): boolean {
  return (node as { typename?: string }).typename === 'KeywordArgs';
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : describeValue(value);
}
