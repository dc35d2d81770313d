import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// The layering docs/how-it-is-built.md describes, read from the imports of lib/ (type-only ones
// included, since a type cycle still ties two files together).
const root = resolve(import.meta.dirname, '..', '..');
const lib = join(root, 'lib');

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Each file of lib/, as a path under lib/, with the files of lib/ it imports. */
const imports = new Map<string, string[]>(
  sourceFiles(lib).map((file) => {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((match) =>
      relative(lib, resolve(dirname(file), (match[1] ?? match[2])!.replace(/\.js$/, '.ts'))),
    );
    return [relative(lib, file), targets];
  }),
);

const importsOf = (prefix: string): Array<[string, string]> =>
  [...imports]
    .filter(([file]) => file.startsWith(prefix))
    .flatMap(([file, targets]) => targets.map((target): [string, string] => [file, target]));

describe('the layers of lib/', () => {
  it('has no import cycles, type-only imports included', () => {
    const cycles: string[][] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const target of imports.get(file) ?? []) {
        if (state.get(target) === 'open') cycles.push([...stack.slice(stack.indexOf(target)), target]);
        else if (!state.has(target)) visit(target);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of imports.keys()) if (!state.has(file)) visit(file);
    expect(cycles.map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('resolves every relative import to a file of lib/', () => {
    const missing = [...imports].flatMap(([file, targets]) =>
      targets.filter((target) => !imports.has(target)).map((target) => `${file} -> ${target}`),
    );
    expect(missing).toEqual([]);
  });

  it('keeps core/ and interfaces/ below everything else', () => {
    const upward = [...importsOf('core/'), ...importsOf('interfaces/')].filter(
      ([, target]) => !target.startsWith('core/') && !target.startsWith('interfaces/'),
    );
    expect(upward.map(([file, target]) => `${file} -> ${target}`)).toEqual([]);
  });

  it('builds backends on core primitives and interfaces only, never on Cache', () => {
    const outside = importsOf('backends/').filter(
      ([, target]) =>
        target === 'core/cache.ts' ||
        !(target.startsWith('core/') || target.startsWith('interfaces/') || target.startsWith('backends/')),
    );
    expect(outside.map(([file, target]) => `${file} -> ${target}`)).toEqual([]);
  });

  it('keeps stampede/ on the getOrSet port, not on Cache', () => {
    const outside = importsOf('stampede/').filter(
      ([, target]) =>
        target === 'core/cache.ts' ||
        !(target.startsWith('core/') || target.startsWith('interfaces/') || target.startsWith('stampede/')),
    );
    expect(outside.map(([file, target]) => `${file} -> ${target}`)).toEqual([]);
  });
});
