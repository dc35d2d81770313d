// One of several processes hammering the same filesystem cache: writes values that carry a
// checksum of themselves, reads values and reports any that are torn or belong to another key.
import { createHash } from 'node:crypto';
import { FileSystemBackend } from '../../lib/backends/filesystem.backend.js';
import { MISS } from '../../lib/interfaces/cache-backend.interface.js';

const [directory, workerId, durationMs] = process.argv.slice(2) as [string, string, string];
const backend = new FileSystemBackend(directory, { maxEntries: 1000, cullFrequency: 3 });
const keys = Array.from({ length: 8 }, (_, i) => `shared-key-${i}`);

function makeValue(key: string, round: number) {
  // Large enough (2 MB, several write calls of 512 kB in Node) that a torn read would show.
  const body = Buffer.alloc(2 * 1024 * 1024, `${workerId}:${round}:`);
  return { key, writer: workerId, round, body, digest: createHash('sha1').update(body).digest('hex') };
}

const deadline = Date.now() + Number(durationMs);
let reads = 0;
let hits = 0;
let writes = 0;
const problems: string[] = [];
for (let round = 0; Date.now() < deadline; round++) {
  const key = keys[Math.floor(round / 2) % keys.length]!;
  if (round % 2 === 0) {
    await backend.set(key, makeValue(key, round), 60_000);
    writes++;
  } else {
    let value: ReturnType<typeof makeValue> | typeof MISS;
    try {
      value = (await backend.get(key)) as ReturnType<typeof makeValue> | typeof MISS;
    } catch (error) {
      problems.push(`unreadable value for ${key}: ${(error as Error).message}`);
      continue;
    }
    reads++;
    if (value === MISS) continue;
    hits++;
    if (value.key !== key) problems.push(`foreign value: asked ${key}, got ${value.key}`);
    if (createHash('sha1').update(value.body).digest('hex') !== value.digest) problems.push(`torn value for ${key}`);
  }
}
process.stdout.write(
  JSON.stringify({ reads, hits, writes, problems: problems.slice(0, 5), problemCount: problems.length }),
);
