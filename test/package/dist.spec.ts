import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

// The published shape: dist/ built by `npm run build`, loaded as a package from an ES module
// app and from a CommonJS app (through Node's require(esm), as NestJS 12 itself is loaded).
describe('the built package', () => {
  it('builds with type declarations and loads from ESM and CommonJS', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'nestjs-caches-dist-'));
    try {
      await run(process.execPath, [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(root, 'tsconfig.build.json'),
        '--outDir',
        join(outDir, 'dist'),
      ]);
      cpSync(join(root, 'package.json'), join(outDir, 'package.json'));
      // Resolve the package by name, with the project's node_modules for its peers.
      const app = join(root, 'node_modules', '.nestjs-caches-dist-test');
      rmSync(app, { recursive: true, force: true });
      cpSync(outDir, app, { recursive: true });
      const importer = join(root, 'node_modules', '.dist-test-esm.mjs');
      const requirer = join(root, 'node_modules', '.dist-test-cjs.cjs');
      writeFileSync(
        importer,
        `import { CacheModule, Cache } from './.nestjs-caches-dist-test/dist/index.js';\nconsole.log(typeof CacheModule.forRoot, typeof Cache);`,
      );
      writeFileSync(
        requirer,
        `const { CacheModule, Cache } = require('./.nestjs-caches-dist-test/dist/index.js');\nconsole.log(typeof CacheModule.forRoot, typeof Cache);`,
      );
      try {
        const esm = await run(process.execPath, [importer]);
        const cjs = await run(process.execPath, ['--no-warnings', requirer]);
        expect(esm.stdout.trim()).toBe('function function');
        expect(cjs.stdout.trim()).toBe('function function');
        const declarations = await run('ls', [join(outDir, 'dist')]);
        expect(declarations.stdout).toContain('index.d.ts');
        // Every entry point the package exports is built, nestjs-caches/testing included.
        const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
          exports: Record<string, string | Record<string, string>>;
        };
        expect(Object.keys(exports)).toContain('./testing');
        for (const target of Object.values(exports).flatMap((entry) =>
          typeof entry === 'string' ? [entry] : Object.values(entry),
        )) {
          expect(existsSync(join(outDir, target))).toBe(true);
        }
        // @internal members are stripped from the declarations users compile against.
        const cacheTypes = readFileSync(join(outDir, 'dist', 'core', 'cache.d.ts'), 'utf8');
        expect(cacheTypes).toContain('getOrSet');
        expect(cacheTypes).not.toContain('recordStaleServe');
      } finally {
        rmSync(app, { recursive: true, force: true });
        rmSync(importer, { force: true });
        rmSync(requirer, { force: true });
      }
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});
