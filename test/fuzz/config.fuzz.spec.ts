import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createBackend } from '../../lib/backends/create-backend.js';
import { BUILT_IN_BACKENDS, resolveCaches } from '../../lib/core/resolve-config.js';
import { resolveHttpOptions } from '../../lib/http/resolve-http-options.js';
import { CacheConfigError, type CachesOptions } from '../../lib/index.js';

/** Resolves `{ default: entry }` and, for the backends that need no server, builds it as the module does. */
async function boot(entry: unknown) {
  const [resolved] = resolveCaches({ default: entry } as unknown as CachesOptions);
  if (resolved!.backend === 'locmem' || resolved!.backend === 'dummy') {
    const backend = await createBackend(resolved!, {
      moduleRef: undefined as never,
      backendOf: () => undefined as never,
    });
    await backend.close?.();
  }
  return resolved!;
}

/** The error `run` fails with; a run that succeeds fails the property. */
async function refusal(run: () => unknown): Promise<Error> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigError);
    return error as Error;
  }
  throw new Error('accepted, but should have been refused');
}

const isNullish = (value: unknown) => value === undefined || value === null;
/** Any value but the ones `allowed` accepts. */
const anythingBut = (allowed: (value: unknown) => boolean) => fc.anything().filter((value) => !allowed(value));
// Object keys fast-check may generate that JavaScript treats specially.
const plainName = (name: string) => name !== '__proto__' && name !== 'constructor';

const seconds = fc.double({ min: 0, max: 1e9, noNaN: true });
const common = {
  timeout: fc.oneof(fc.constant(null), fc.double({ noNaN: true })),
  keyPrefix: fc.string(),
  version: fc.integer(),
  ignoreErrors: fc.boolean(),
  commandTimeoutMs: fc.double({ min: 0.001, max: 1e9, noNaN: true }),
  circuitBreaker: fc.oneof(
    fc.constant(false as const),
    fc.record(
      { failures: fc.integer({ min: 1, max: 1000 }), breakSeconds: fc.double({ min: 0.001, max: 1e6, noNaN: true }) },
      { requiredKeys: [] },
    ),
  ),
};
const validLocmem = fc.record(
  {
    backend: fc.constant('locmem'),
    location: fc.string(),
    options: fc.record(
      { maxEntries: fc.integer({ min: 1, max: 10_000 }), cullFrequency: fc.integer({ min: 0, max: 100 }) },
      { requiredKeys: [] },
    ),
    ...common,
  },
  { requiredKeys: ['backend'] },
);
const validDummy = fc.record({ backend: fc.constant('dummy'), ...common }, { requiredKeys: ['backend'] });

const SETTINGS = new Set([...Object.keys(common), 'backend', 'location', 'options', 'keyFunction', 'tiers', 'bus']);

type Entry = Record<string, unknown>;
/** One setting made wrong in a valid locmem entry, and the field the refusal must name. */
const oneBadSetting: fc.Arbitrary<[string, (entry: Entry) => Entry]> = fc.oneof(
  ...(
    [
      ['backend', (v) => typeof v === 'function' || (BUILT_IN_BACKENDS as readonly unknown[]).includes(v)],
      ['timeout', (v) => v === undefined || v === null || (typeof v === 'number' && !Number.isNaN(v))],
      ['version', (v) => isNullish(v) || Number.isInteger(v)],
      ['keyPrefix', (v) => isNullish(v) || typeof v === 'string'],
      ['keyFunction', (v) => isNullish(v) || typeof v === 'function'],
      ['options', (v) => isNullish(v) || (typeof v === 'object' && !Array.isArray(v))],
      ['ignoreErrors', (v) => isNullish(v) || typeof v === 'boolean'],
      ['commandTimeoutMs', (v) => isNullish(v) || (typeof v === 'number' && v > 0 && Number.isFinite(v))],
      ['circuitBreaker', (v) => v === undefined || v === false || (v !== null && typeof v === 'object')],
      ['location', (v) => v === undefined || typeof v === 'string'],
      ['tiers', (v) => v === undefined || (Array.isArray(v) && v.every((tier) => typeof tier === 'string'))],
      ['bus', (v) => v === undefined || typeof v === 'string'],
    ] as Array<[string, (value: unknown) => boolean]>
  ).map(([field, allowed]) =>
    anythingBut(allowed).map((bad): [string, (entry: Entry) => Entry] => [
      field,
      (entry) => ({ ...entry, [field]: bad }),
    ]),
  ),
  ...(
    [
      ['circuitBreaker', 'failures', (v) => v === undefined || (Number.isInteger(v) && (v as number) >= 1)],
      [
        'circuitBreaker',
        'breakSeconds',
        (v) => v === undefined || (typeof v === 'number' && Number.isFinite(v) && v > 0),
      ],
      ['options', 'maxEntries', (v) => isNullish(v) || (Number.isInteger(v) && (v as number) >= 1)],
      ['options', 'cullFrequency', (v) => isNullish(v) || (Number.isInteger(v) && (v as number) >= 0)],
    ] as Array<[string, string, (value: unknown) => boolean]>
  ).map(([field, name, allowed]) =>
    anythingBut(allowed).map((bad): [string, (entry: Entry) => Entry] => [
      `${field}.${name}`,
      (entry) => ({ ...entry, [field]: { ...(entry[field] as object), [name]: bad } }),
    ]),
  ),
  fc
    .string({ minLength: 1 })
    .filter((name) => plainName(name) && !['maxEntries', 'cullFrequency'].includes(name))
    .map((name): [string, (entry: Entry) => Entry] => [
      `options.${name}`,
      (entry) => ({ ...entry, options: { ...(entry.options as object), [name]: 1 } }),
    ]),
  fc
    .string({ minLength: 1 })
    .filter((name) => plainName(name) && !SETTINGS.has(name))
    .map((name): [string, (entry: Entry) => Entry] => [name, (entry) => ({ ...entry, [name]: 1 })]),
);

/** Entries of every shape, right and wrong, for the property that only rules out crashes. */
const roughEntry = fc.record(
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
  it('accepts every valid locmem and dummy entry, with Django’s defaults for what it leaves out', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(validLocmem, validDummy), async (entry) => {
        const resolved = await boot(entry);
        expect(resolved).toMatchObject({
          alias: 'default',
          backend: entry.backend,
          timeout: 'timeout' in entry ? entry.timeout : 300,
          keyPrefix: entry.keyPrefix ?? '',
          version: entry.version ?? 1,
          ignoreErrors: entry.ignoreErrors ?? false,
          commandTimeoutMs: entry.commandTimeoutMs ?? 500,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an entry with one wrong setting, with a CacheConfigError naming that field', async () => {
    await fc.assert(
      fc.asyncProperty(validLocmem, oneBadSetting, async (entry, [field, spoil]) => {
        const error = await refusal(() => boot(spoil(entry)));
        expect(error.message).toContain(`caches.default.${field}`);
      }),
      { numRuns: 500 },
    );
  });

  it('never fails with anything but a CacheConfigError naming the alias, for any entry', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(roughEntry, fc.anything()), async (candidate) => {
        try {
          await boot(candidate);
        } catch (error) {
          expect(error).toBeInstanceOf(CacheConfigError);
          expect((error as Error).message).toMatch(/^caches\.default\b/);
        }
      }),
      // Found by CI: a value whose toString is not a function once made the error message itself throw.
      { numRuns: 500, examples: [[{ backend: { toString: {} } }], [{ timeout: { toString: {} } }]] },
    );
  });

  it('refuses a whole CACHES that is not an object of aliases with a default', async () => {
    const notAnObject = anythingBut((value) => value !== null && typeof value === 'object');
    const withoutDefault = fc.oneof(
      fc.array(fc.anything()),
      fc.dictionary(
        fc.string().filter((alias) => plainName(alias) && alias !== 'default'),
        validLocmem,
      ),
    );
    await fc.assert(
      fc.asyncProperty(notAnObject, async (caches) => {
        const error = await refusal(() => resolveCaches(caches as CachesOptions));
        expect(error.message).toMatch(/^caches must be an object of aliases/);
      }),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(withoutDefault, async (caches) => {
        const error = await refusal(() => resolveCaches(caches as CachesOptions));
        expect(error.message).toMatch(/^caches\.default is required/);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts a CACHES of valid aliases with a default, in order', async () => {
    const aliases = fc.dictionary(fc.string().filter(plainName), fc.oneof(validLocmem, validDummy));
    await fc.assert(
      fc.asyncProperty(validDummy, aliases, async (first, others) => {
        const caches = { default: first, ...others };
        expect(resolveCaches(caches as CachesOptions).map((entry) => entry.alias)).toEqual(Object.keys(caches));
      }),
      { numRuns: 200 },
    );
  });
});

// RFC 9110 §5.1: a header name is a token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const validSite = fc.record(
  {
    cache: fc.string({ minLength: 1 }),
    timeout: seconds,
    keyPrefix: fc.string(),
    staleWhileRevalidate: seconds,
  },
  { requiredKeys: [] },
);
const validHttpOptions = fc.record(
  {
    site: validSite,
    statusHeader: fc.stringMatching(TOKEN),
    allowedHosts: fc.array(fc.string({ minLength: 1 })),
  },
  { requiredKeys: [] },
);
const isSeconds = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
/** One HTTP option made wrong, and the name the refusal must start with. */
const oneBadHttpOption: fc.Arbitrary<[string, (options: Entry) => Entry]> = fc.oneof(
  ...(
    [
      ['statusHeader', (v) => v === undefined || (typeof v === 'string' && TOKEN.test(v))],
      [
        'allowedHosts',
        (v) => v === undefined || (Array.isArray(v) && v.every((host) => typeof host === 'string' && host !== '')),
      ],
      ['site', (v) => v === undefined || (v !== null && typeof v === 'object' && !Array.isArray(v))],
    ] as Array<[string, (value: unknown) => boolean]>
  ).map(([field, allowed]) =>
    anythingBut(allowed).map((bad): [string, (options: Entry) => Entry] => [
      field,
      (options) => ({ ...options, [field]: bad }),
    ]),
  ),
  ...(
    [
      ['timeout', (v) => v === undefined || isSeconds(v)],
      ['staleWhileRevalidate', (v) => v === undefined || isSeconds(v)],
      ['cache', (v) => v === undefined || (typeof v === 'string' && v !== '')],
      ['keyPrefix', (v) => v === undefined || typeof v === 'string'],
    ] as Array<[string, (value: unknown) => boolean]>
  ).map(([name, allowed]) =>
    anythingBut(allowed).map((bad): [string, (options: Entry) => Entry] => [
      `site.${name}`,
      (options) => ({ ...options, site: { ...(options.site as object), [name]: bad } }),
    ]),
  ),
  fc
    .string({ minLength: 1 })
    .filter(
      (name) => plainName(name) && !['site', 'statusHeader', 'allowedHosts', 'invalidation', 'metrics'].includes(name),
    )
    .map((name): [string, (options: Entry) => Entry] => [
      `CacheModule options.${name}`,
      (options) => ({ ...options, [name]: 1 }),
    ]),
  fc
    .string({ minLength: 1 })
    .filter((name) => plainName(name) && !['cache', 'timeout', 'keyPrefix', 'staleWhileRevalidate'].includes(name))
    .map((name): [string, (options: Entry) => Entry] => [
      `site.${name}`,
      (options) => ({ ...options, site: { ...(options.site as object), [name]: 1 } }),
    ]),
);

describe('random HTTP options', () => {
  it('accepts every valid set of HTTP options, and none at all', async () => {
    expect(resolveHttpOptions(undefined)).toEqual({});
    fc.assert(
      fc.property(validHttpOptions, (options) => {
        expect(resolveHttpOptions(options)).toBe(options);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses HTTP options with one wrong field, with a CacheConfigError naming that field', async () => {
    await fc.assert(
      fc.asyncProperty(validHttpOptions, oneBadHttpOption, async (options, [field, spoil]) => {
        const error = await refusal(() => resolveHttpOptions(spoil(options) as never));
        expect(error.message.startsWith(`${field} `) || error.message.startsWith(`${field}.`)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses HTTP options that are not an object', async () => {
    await fc.assert(
      fc.asyncProperty(
        anythingBut((value) => isNullish(value) || (typeof value === 'object' && !Array.isArray(value))),
        async (options) => {
          const error = await refusal(() => resolveHttpOptions(options as never));
          expect(error.message).toMatch(/^CacheModule options must be an object/);
        },
      ),
      { numRuns: 200 },
    );
  });
});
