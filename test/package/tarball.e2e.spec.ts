import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { NEST_11_PACKAGES } from '../setup/nest11-packages.mjs';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const { devDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

/** What `npm pack --json` says of the tarball it wrote. */
interface PackResult {
  tarball: string;
  files: string[];
}

/**
 * Packs the package as `npm publish` would (its prepack script builds a clean dist/ first) into
 * `destination`; the tarball and the paths inside it.
 */
async function packTarball(destination: string): Promise<PackResult> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', destination], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  });
  // npm prints the prepack script's banner to stdout too, before the JSON (some npm 11 releases).
  const json = stdout.slice(stdout.search(/^\[$/m));
  const [result] = JSON.parse(json) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: join(destination, result!.filename), files: result!.files.map((file) => file.path) };
}

/**
 * The same app as a user writes it in plain JavaScript, as CommonJS or as an ES module: a page
 * cached with @CachePage, a service method with @Cacheable, and a memcached alias in an app without
 * memjs. It prints what it saw as one JSON line.
 */
function appSource(kind: 'cjs' | 'esm'): string {
  const imports =
    kind === 'cjs'
      ? `require('reflect-metadata');
const { Controller, Get, Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { CacheModule, CachePage, Cacheable } = require('nestjs-caches');`
      : `import 'reflect-metadata';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheModule, CachePage, Cacheable } from 'nestjs-caches';`;
  // What TypeScript's decorators compile to, written out so that the app needs no build step.
  return `${imports}
function decorate(decorators, target, key) {
  const descriptor = Reflect.decorate(decorators, target, key, Object.getOwnPropertyDescriptor(target, key));
  if (descriptor) Object.defineProperty(target, key, descriptor);
}
const runs = { page: 0, stock: 0 };
class StockService {
  async stock(sku) {
    runs.stock++;
    return sku.length;
  }
}
decorate([Cacheable({ key: 'stock:{0}', timeout: 30 })], StockService.prototype, 'stock');
Reflect.decorate([Injectable()], StockService);
class PageController {
  page() {
    runs.page++;
    return { page: runs.page };
  }
}
decorate([Get('page'), CachePage(60)], PageController.prototype, 'page');
Reflect.decorate([Controller()], PageController);
class AppModule {}
Reflect.decorate(
  [Module({ imports: [CacheModule.forRoot({ default: { backend: 'locmem' } })], controllers: [PageController], providers: [StockService] })],
  AppModule,
);
class MemcachedModule {}
Reflect.decorate(
  [Module({ imports: [CacheModule.forRoot({ default: { backend: 'locmem' }, sessions: { backend: 'memcached', location: '127.0.0.1:11211' } })] })],
  MemcachedModule,
);

async function main() {
const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const url = (await app.getUrl()).replace('[::1]', '127.0.0.1') + '/page';
const first = await fetch(url);
const second = await fetch(url);
const stocks = [await app.get(StockService).stock('abc'), await app.get(StockService).stock('abc')];
await app.close();
let missingPeer = 'booted';
try {
  await (await NestFactory.createApplicationContext(MemcachedModule, { logger: false, abortOnError: false })).close();
} catch (error) {
  missingPeer = error.name + ': ' + error.message;
}
console.log(JSON.stringify({
  pages: [first.headers.get('x-cache'), second.headers.get('x-cache')],
  bodies: [await first.json(), await second.json()],
  stocks,
  runs,
  missingPeer,
}));
}
${kind === 'cjs' ? 'main();' : 'await main();'}
`;
}

const EXPECTED = {
  pages: ['MISS', 'HIT'],
  bodies: [{ page: 1 }, { page: 1 }],
  stocks: [3, 3],
  runs: { page: 1, stock: 1 },
  missingPeer: "CacheConfigError: caches.sessions uses backend 'memcached', which needs memjs: npm install memjs",
};

/** Dependencies of a fresh app on one NestJS line, beside the tarball. */
const LINES: Record<string, Record<string, string>> = {
  'NestJS 12': Object.fromEntries(
    ['@nestjs/common', '@nestjs/core', '@nestjs/platform-express'].map((name) => [name, devDependencies[name]!]),
  ),
  // A NestJS 11 app that also uses TypeORM 0.3 (@nestjs/typeorm 11 needs it): the combination whose
  // install once failed with ERESOLVE.
  'NestJS 11 with TypeORM 0.3': Object.fromEntries(
    ['@nestjs/common', '@nestjs/core', '@nestjs/platform-express', '@nestjs/typeorm', 'typeorm'].map((name) => [
      name,
      NEST_11_PACKAGES[name]!,
    ]),
  ),
};

// The package as users get it: one `npm pack` for the whole file (its prepack script rebuilds dist/
// in the repository, which two packs at once would race on), whose contents are checked, then
// installed into fresh apps.
const work = mkdtempSync(join(tmpdir(), 'nestjs-caches-tarball-'));
const unpacked = join(work, 'package');
let tarball = '';
let files: string[] = [];
beforeAll(async () => {
  ({ tarball, files } = await packTarball(work));
  await run('tar', ['-xzf', tarball, '-C', work]);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

// What `npm publish` would upload, unpacked, so that the source maps can be followed to the files they name.
describe('the packed package', () => {
  it('holds what an app loads, the license and the readme', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      main: string;
      types: string;
      bin: Record<string, string>;
    };
    const entryPoints = [manifest.main, manifest.types, ...Object.values(manifest.bin)].map((path) =>
      posix.normalize(path),
    );
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'dist/index.js',
        'dist/index.d.ts',
        ...entryPoints,
      ]),
    );
  });

  it('leaves out the tests, benchmarks and sample', () => {
    const stray = files.filter((path) => /^(test|bench|sample|node_modules|build|coverage)\//.test(path));
    expect(stray).toEqual([]);
  });

  it('has source maps whose sources are inside the package', () => {
    const maps = files.filter((path) => path.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    const unresolved: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(readFileSync(join(unpacked, map), 'utf8')) as {
        sources: string[];
        sourceRoot?: string;
      };
      for (const source of sources) {
        const path = posix.normalize(posix.join(posix.dirname(map), sourceRoot, source));
        if (!files.includes(path)) unresolved.push(`${map} -> ${path}`);
      }
    }
    expect(unresolved).toEqual([]);
  });

  it('points every sourceMappingURL at a map in the package', () => {
    const missing = files
      .filter((path) => path.endsWith('.js') || path.endsWith('.d.ts'))
      .flatMap((path) => {
        const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(unpacked, path), 'utf8'))?.[1];
        const target = url && posix.normalize(posix.join(dirname(path), url));
        return target && !files.includes(target) ? [`${path} -> ${target}`] : [];
      });
    expect(missing).toEqual([]);
  });
});

// `npm install` of the tarball (from the registry, or npm's cache when it has the versions): one
// install per NestJS line, shared by a CommonJS and an ES module app.
describe.each(Object.entries(LINES))('the packed tarball in a fresh %s app', (line, dependencies) => {
  const app = join(work, line.replace(/\W+/g, '-'));
  let install = { stdout: '', stderr: '', seconds: 0 };

  beforeAll(async () => {
    mkdirSync(app);
    const manifest = {
      name: 'fresh-app',
      private: true,
      dependencies: {
        ...dependencies,
        'reflect-metadata': devDependencies['reflect-metadata'],
        rxjs: devDependencies.rxjs,
        'nestjs-caches': `file:${tarball}`,
      },
    };
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(join(app, 'main.cjs'), appSource('cjs'));
    writeFileSync(join(app, 'main.mjs'), appSource('esm'));
    const started = performance.now();
    const { stdout, stderr } = await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel', 'warn'],
      { cwd: app, env: { ...process.env, npm_config_yes: 'true' }, maxBuffer: 16 * 1024 * 1024 },
    );
    install = { stdout, stderr, seconds: (performance.now() - started) / 1000 };
    console.log(`${line}: npm install took ${install.seconds.toFixed(1)} s`);
  }, 300_000);

  it('installs with no resolution error and no peer warning about this package', () => {
    const output = `${install.stdout}\n${install.stderr}`;
    expect(output).not.toMatch(/ERESOLVE/);
    const warnings = output.split('\n').filter((line) => /^npm warn/i.test(line));
    expect(warnings.filter((line) => /nestjs-caches|peer/i.test(line))).toEqual([]);
  });

  it.each([
    ['CommonJS', 'main.cjs'],
    ['ES module', 'main.mjs'],
  ])(
    'boots as %s, serves a cached page and a @Cacheable hit, and names a missing peer',
    async (_kind, entry) => {
      const { stdout } = await run(process.execPath, [entry], { cwd: app });
      expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual(EXPECTED);
    },
    60_000,
  );
});
