// `npm run bench [-- suite ...]`: builds dist/, then runs each named suite (default: every
// bench/<name>.bench.mjs) in a process of its own, so that one suite's heap and JIT state
// cannot colour the next one's numbers.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { environmentHeader } from './harness.mjs';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const rootDir = fileURLToPath(new URL('..', import.meta.url));
const SUFFIX = '.bench.mjs';

const available = readdirSync(benchDir)
  .filter((file) => file.endsWith(SUFFIX))
  .map((file) => file.slice(0, -SUFFIX.length))
  .sort();
const args = process.argv.slice(2);
const skipBuild = args.includes('--no-build');
const requested = args.filter((arg) => !arg.startsWith('--'));
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`Unknown bench suite: ${unknown.join(', ')}. Available: ${available.join(', ')}.`);
  process.exit(1);
}
const suites = requested.length > 0 ? requested : available;

if (!skipBuild) build();
console.log(environmentHeader());

// The charts the suites draw name the command that made them.
process.env.NESTJS_CACHES_BENCH_COMMAND ??= `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;

const failed = [];
for (const suite of suites) {
  const url = pathToFileURL(`${benchDir}${suite}${SUFFIX}`).href;
  // --expose-gc lets the harness collect between timing slices, so each slice pays for its own garbage.
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', '--input-type=module', '-e', `await (await import(${JSON.stringify(url)})).run();`],
    { cwd: rootDir, stdio: 'inherit' },
  );
  if (child.status !== 0) failed.push(suite);
}
if (failed.length > 0) {
  console.error(`\nSuites that crashed: ${failed.join(', ')}.`);
  process.exit(1);
}

/** Compiles lib/ to dist/ as `npm run build` does; benches import the compiled package. */
function build() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const started = performance.now();
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: rootDir, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('The build failed; fix it (npm run build) before benchmarking.');
    process.exit(1);
  }
  console.log(`Built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}
