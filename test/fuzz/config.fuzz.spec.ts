import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createBackend } from '../../lib/backends/create-backend.js';
import { resolveCaches } from '../../lib/core/resolve-config.js';
import { resolveHttpOptions } from '../../lib/http/resolve-http-options.js';
import { CacheConfigError, type CachesOptions } from '../../lib/index.js';

/** Either it is accepted, or it fails with a CacheConfigError that names a field — nothing else. */
async function acceptedOrConfigError(run: () => unknown): Promise<void> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigError);
    expect((error as Error).message).toMatch(/[a-zA-Z]+/);
  }
}

const entry = fc.record(
  {
    backend: fc.oneof(fc.constantFrom('locmem', 'dummy', 'nope', ''), fc.anything()),
    location: fc.oneof(fc.string(), fc.anything()),
    timeout: fc.anything(),
    keyPrefix: fc.anything(),
    version: fc.anything(),
    options: fc.oneof(
      fc.constant({ maxEntries: 10 }),
      fc.dictionary(fc.constantFrom('maxEntries', 'cullFrequency', 'x'), fc.anything()),
    ),
    ignoreErrors: fc.anything(),
    commandTimeoutMs: fc.anything(),
    circuitBreaker: fc.anything(),
  },
  { requiredKeys: [] },
);

describe('random configuration', () => {
  it('is accepted or refused with a CacheConfigError, for aliases and their backends', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(entry, fc.anything()), async (candidate) => {
        await acceptedOrConfigError(async () => {
          const [resolved] = resolveCaches({ default: candidate } as unknown as CachesOptions);
          if (resolved!.backend === 'locmem' || resolved!.backend === 'dummy') {
            const backend = await createBackend(resolved!, {
              moduleRef: undefined as never,
              backendOf: () => undefined as never,
            });
            await backend.close?.();
          }
        });
      }),
      // Found by CI: a value whose toString is not a function once made the error message itself throw.
      { numRuns: 500, examples: [[{ backend: { toString: {} } }], [{ timeout: { toString: {} } }]] },
    );
  });

  it('refuses a whole CACHES that is not an object of aliases with a default', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (caches) => {
        await acceptedOrConfigError(() => resolveCaches(caches as CachesOptions));
      }),
      { numRuns: 300 },
    );
  });

  it('accepts or refuses any HTTP options with a CacheConfigError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record(
            { site: fc.anything(), statusHeader: fc.anything(), allowedHosts: fc.anything() },
            { requiredKeys: [] },
          ),
        ),
        async (options) => {
          await acceptedOrConfigError(() => resolveHttpOptions(options as never));
        },
      ),
      { numRuns: 300 },
    );
  });
});
