import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// The guide's examples are meant to be pasted: every ```ts block of the README and docs/ must
// compile as a module of its own against the library's source, with the imports it shows. A
// block fenced as ```ts sketch is an outline (a cheat sheet of fragments) and is left out.
const root = fileURLToPath(new URL('../..', import.meta.url));
const documents = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The examples of a document: `[line, code]` for each ```ts block. */
function examplesOf(document: string): Array<[number, string]> {
  const lines = readFileSync(join(root, document), 'utf8').split('\n');
  const examples: Array<[number, string]> = [];
  for (let start = 0; start < lines.length; start++) {
    if (lines[start] !== '```ts') continue;
    const end = lines.indexOf('```', start + 1);
    examples.push([start + 1, lines.slice(start + 1, end).join('\n')]);
    start = end;
  }
  return examples;
}

// What the examples import from the reader's own app.
const APP_MODULE = `import { Module } from '@nestjs/common';\n@Module({})\nexport class AppModule {}\n`;

describe('the examples in the guide', () => {
  const examples = documents.flatMap((document) =>
    examplesOf(document).map(([line, code]) => ({ name: `${document}:${line}`, code })),
  );

  it('are found', () => {
    expect(examples.length).toBeGreaterThanOrEqual(15);
  });

  it('compile as pasted', () => {
    // Inside the repository (build/ is ignored), so that the examples resolve its node_modules
    // and are ES modules as the package is.
    mkdirSync(join(root, 'build'), { recursive: true });
    const folder = mkdtempSync(join(root, 'build', 'examples-'));
    try {
      writeFileSync(join(folder, 'app.module.ts'), APP_MODULE);
      const files = examples.map(({ name, code }, index) => {
        const file = join(folder, `example-${index}.ts`);
        writeFileSync(file, `// ${name}\n${code}\n`);
        return { file, name };
      });
      const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), (path) => ts.sys.readFile(path));
      const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
      const program = ts.createProgram(
        files.map(({ file }) => file),
        { ...options, noEmit: true, paths: { 'nestjs-caches': [join(root, 'lib/index.ts')] } },
      );
      const errors = ts
        .getPreEmitDiagnostics(program)
        .filter((diagnostic) => diagnostic.file?.fileName.startsWith(folder))
        .map((diagnostic) => {
          const example = files.find(({ file }) => file === diagnostic.file!.fileName)!;
          const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
          return `${example.name} (+${line}): ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
        });
      expect(errors).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 120_000);
});
