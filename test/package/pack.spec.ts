import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { packTarball, root } from './pack.js';

const run = promisify(execFile);

// What `npm publish` would upload: the tarball `npm pack` writes, unpacked, so that the source maps
// can be followed to the files they name.
describe('the packed package', () => {
  const work = mkdtempSync(join(tmpdir(), 'nestjs-caches-pack-'));
  const unpacked = join(work, 'package');
  let files: string[] = [];

  beforeAll(async () => {
    const packed = await packTarball(work);
    files = packed.files;
    await run('tar', ['-xzf', packed.tarball, '-C', work]);
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

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
