import { CacheConfigError } from './errors.js';

/**
 * The optional peer dependencies that this library imports itself, each only when a feature that
 * needs it is configured, so an app installs just what it uses. (Nunjucks and @nestjs/terminus
 * are optional too, but only the app imports them: the fragment tag and the health indicator
 * work on what the app hands them.)
 */
export type OptionalPeer =
  'ioredis' | 'memjs' | 'typeorm' | '@nestjs/typeorm' | 'prom-client' | '@opentelemetry/api' | 'keyv';

/**
 * Checks at boot that the peers a configured feature needs can be imported, so that a missing
 * one is a configuration error naming who needs it and the command, rather than Node's
 * ERR_MODULE_NOT_FOUND from inside this package at the first call.
 *
 * @example await requirePeers("caches.sessions uses backend 'memcached'", ['memjs'])
 *   // CacheConfigError: caches.sessions uses backend 'memcached', which needs memjs: npm install memjs
 */
export async function requirePeers(subject: string, peers: readonly OptionalPeer[]): Promise<void> {
  const missing = new Set<OptionalPeer>();
  let cause: unknown;
  for (const peer of peers) {
    try {
      await import(peer);
    } catch (error) {
      // A listed peer missing (this one, or one it imports: @nestjs/typeorm imports typeorm) is
      // this error; anything else, such as a dependency of the peer missing, keeps its own message.
      const notFound = peers.find((named) => isNotFound(error, named));
      if (notFound === undefined) throw error;
      missing.add(notFound);
      cause ??= error;
    }
  }
  if (missing.size === 0) return;
  const names = [...missing];
  throw new CacheConfigError(`${subject}, which needs ${names.join(' and ')}: npm install ${names.join(' ')}`, {
    cause,
  });
}

/**
 * The peer's module if the app has it installed, else `undefined`: for features that are on
 * whenever their peer is there (spans, with `@opentelemetry/api`).
 */
export async function loadOptionalPeer<T>(peer: OptionalPeer): Promise<T | undefined> {
  try {
    return (await import(peer)) as T;
  } catch (error) {
    if (isNotFound(error, peer)) return undefined;
    throw error;
  }
}

/** Node's "Cannot find package 'memjs' imported from ..." (ESM) or "Cannot find module 'memjs'" (CommonJS). */
function isNotFound(error: unknown, peer: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    (message.includes(`'${peer}'`) || message.includes(`'${peer}/`))
  );
}
