import { Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CACHES_CONFIG } from '../cache.constants.js';
import { CacheModule } from '../cache.module.js';
import { Caches } from '../caches.js';
import type { CachesOptions, ResolvedCacheEntry } from '../interfaces/cache-options.interface.js';
import { isDataSource } from './createcachetable.command.js';

export const CONFIG_OPTIONS_USAGE = `  --config, -c <file>        a module exporting the caches object CacheModule.forRoot() takes
                             (default export, or named caches), and for database aliases a
                             TypeORM DataSource (named dataSource or AppDataSource)
  --module, -m <file>#<Class>  boot this application module (e.g. dist/app.module.js#AppModule)
                             and use its CacheModule, forRootAsync included`;

/** The application's caches, as the CLI reaches them, and how to let them go. */
export interface LoadedCaches {
  caches: Caches;
  entries: ResolvedCacheEntry[];
  app: INestApplicationContext;
  close(): Promise<void>;
}

/** `--config` / `--module` and the arguments left. */
export interface CacheSource {
  config?: string;
  module?: string;
}

/** Takes `--config` and `--module` out of `args`; the others are returned in order. */
export function takeCacheSource(args: readonly string[]): { source: CacheSource; rest: string[] } {
  const source: CacheSource = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--config' || arg === '-c') source.config = args[++i];
    else if (arg.startsWith('--config=')) source.config = arg.slice('--config='.length);
    else if (arg === '--module' || arg === '-m') source.module = args[++i];
    else if (arg.startsWith('--module=')) source.module = arg.slice('--module='.length);
    else rest.push(arg);
  }
  return { source, rest };
}

/**
 * Boots the caches an application configures, in an application context of their own: from a
 * config module (as Django reads `settings.CACHES`), or from the application's module itself.
 */
export async function loadCaches(source: CacheSource): Promise<LoadedCaches> {
  if (source.module !== undefined) return fromModule(source.module);
  if (source.config !== undefined) return fromConfig(source.config);
  throw new UsageError('--config <file> or --module <file>#<Class> is required');
}

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

async function fromConfig(path: string): Promise<LoadedCaches> {
  const exports = await importFile(path);
  const caches = (exports.caches ?? exports.default) as CachesOptions | undefined;
  if (caches === null || typeof caches !== 'object' || !('default' in caches)) {
    throw new Error(
      `${path} exports no caches object: export the object CacheModule.forRoot() takes (with a default alias) as the default export or as caches.`,
    );
  }
  const dataSource = [exports.dataSource, exports.AppDataSource].find(isDataSource);
  const providers = [];
  if (dataSource !== undefined) {
    const { getDataSourceToken } = await import('@nestjs/typeorm');
    providers.push({ provide: getDataSourceToken(), useValue: dataSource });
  }
  // The invalidation subscriber is the app's business; the CLI only reads and clears.
  class NestjsCachesCli {}
  Module({ imports: [CacheModule.forRoot(caches, { invalidation: false })], providers })(NestjsCachesCli);
  const app = await NestFactory.createApplicationContext(NestjsCachesCli, { logger: ['error', 'warn'] });
  return loaded(app, async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
  });
}

async function fromModule(reference: string): Promise<LoadedCaches> {
  const hash = reference.lastIndexOf('#');
  const [path, name] = hash > 0 ? [reference.slice(0, hash), reference.slice(hash + 1)] : [reference, 'AppModule'];
  const exports = await importFile(path);
  const appModule = (exports[name] ?? (hash > 0 ? undefined : exports.default)) as Type | undefined;
  if (typeof appModule !== 'function') {
    throw new Error(`${path} exports no module class ${name}: name it as ${path}#<Class>.`);
  }
  const app = await NestFactory.createApplicationContext(appModule, { logger: ['error', 'warn'] });
  return loaded(app, async () => undefined);
}

async function loaded(app: INestApplicationContext, after: () => Promise<void>): Promise<LoadedCaches> {
  await app.init();
  let caches: Caches;
  try {
    caches = app.get(Caches, { strict: false });
  } catch {
    await app.close();
    throw new Error('The application imports no CacheModule.');
  }
  const entries = app.get<ResolvedCacheEntry[]>(CACHES_CONFIG, { strict: false });
  return {
    caches,
    entries,
    app,
    close: async () => {
      await app.close();
      await after();
    },
  };
}

async function importFile(path: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
}
