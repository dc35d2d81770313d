import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryTally } from '../interfaces/cache-backend.interface.js';

/** The files of a directory that end with `extension`, and their bytes (for `count()`). */
export async function countFiles(directory: string, extension: string): Promise<EntryTally> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { entries: 0, description: '0 files (no directory yet)' };
    throw error;
  }
  const files = names.filter((name) => name.endsWith(extension));
  let bytes = 0;
  // A file removed meanwhile (a cull, an expiry) counts as empty.
  for (const name of files) bytes += (await stat(join(directory, name)).catch(() => ({ size: 0 }))).size;
  return { entries: files.length, description: `${files.length} files, ${bytes} bytes` };
}
