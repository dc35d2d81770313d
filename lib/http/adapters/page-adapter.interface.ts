import type { PageRequest } from '../page-keys.js';
import type { HeaderAccess } from '../response-headers.js';
import type { CapturedResponse } from '../stored-page.js';

/**
 * What the page cache needs from an HTTP platform (Express or Fastify), on the request and
 * response objects Nest hands to interceptors.
 */
export interface PageAdapter {
  describe(request: unknown): PageRequest;
  headersOf(response: unknown): HeaderAccess;
  /** Whether the response's headers are gone (a handler that wrote it itself). */
  headersSent(response: unknown): boolean;
  /** Writes a stored answer as it is: no serialization, no handler. `body` undefined sends none. */
  send(response: unknown, status: number, headers: Iterable<readonly [string, string]>, body: string | undefined): void;
  /**
   * Calls `finish` once with the response as it is about to be written, while its headers can
   * still change; not at all if the response is abandoned.
   */
  capture(request: unknown, response: unknown, finish: (response: CapturedResponse) => void): void;
  /**
   * Runs `answer` on each request once it is routed, after every middleware and before Nest's
   * pipeline (guards, interceptors); a request it answers (resolves `true`) goes no further.
   */
  answerBeforeRouting(answer: (request: unknown, response: unknown) => Promise<boolean>): void;
  /** Calls `callback` when the exchange is over, answered or abandoned. */
  onClose(response: unknown, callback: () => void): void;
  /**
   * What the platform would run for a GET of `path` before the page cache answers it before
   * routing (middleware, hooks, plugins), or `undefined` if nothing but the page cache and Nest's
   * own parts of the platform would. `fresh` is a new instance of the same platform made by a new
   * Nest adapter: what it holds is Nest's own, idle unless its hooks are set (NestInternals).
   */
  whatRunsBefore(path: string, fresh: unknown): string | undefined;
  /** A number that changes whenever middleware or hooks are registered: `whatRunsBefore` is then asked again. */
  registrations(): number;
}
