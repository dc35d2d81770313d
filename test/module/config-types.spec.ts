import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

// The configuration's types are part of the API: config-types.check.ts holds configurations an
// app's tsc must accept, and others (each after a @ts-expect-error) it must refuse.
const root = join(import.meta.dirname, '..', '..');
const checked = join(import.meta.dirname, 'config-types.check.ts');

describe("CacheModule's configuration types", () => {
  it('accept every valid configuration and refuse each wrong one', () => {
    const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), (path) => ts.sys.readFile(path));
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
    const program = ts.createProgram([checked], { ...options, noEmit: true });
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((diagnostic) => diagnostic.file?.fileName === checked)
      .map((diagnostic) => {
        const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
        return `config-types.check.ts:${line + 1}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
      });
    expect(errors).toEqual([]);
    // An unused @ts-expect-error is itself an error above; this guards against the file losing them.
    expect(readFileSync(checked, 'utf8').match(/@ts-expect-error/g)?.length).toBeGreaterThanOrEqual(15);
  }, 60_000);
});
