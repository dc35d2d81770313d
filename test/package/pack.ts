import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const root = join(import.meta.dirname, '..', '..');

/** What `npm pack --json` says of the tarball it wrote. */
export interface PackResult {
  tarball: string;
  files: string[];
}

/**
 * Packs the package as `npm publish` would (its prepack script builds a clean dist/ first) into
 * `destination`; the tarball and the paths inside it.
 */
export async function packTarball(destination: string): Promise<PackResult> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', destination], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [result] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: join(destination, result!.filename), files: result!.files.map((file) => file.path) };
}
