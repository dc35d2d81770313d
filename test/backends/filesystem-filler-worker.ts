// One of several processes adding new keys to one filesystem cache, each keeping its own count
// of the files: the test watches how far the directory grows past maxEntries.
import { FileSystemBackend } from '../../lib/backends/filesystem.backend.js';

const [directory, workerId, writes, maxEntries] = process.argv.slice(2) as [string, string, string, string];
const backend = new FileSystemBackend(directory, { maxEntries: Number(maxEntries), cullFrequency: 3 });
for (let i = 0; i < Number(writes); i++) await backend.set(`worker-${workerId}-key-${i}`, i, 60_000);
