// Shared by the suites: the machine header, an interleaved timing loop, and a table printer.
import { arch, cpus, loadavg, platform } from 'node:os';
import { pathToFileURL } from 'node:url';

/** What produced the numbers. Ratios only ever compare rows of the same run. */
export function environmentHeader() {
  const cpu = cpus();
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  return [
    `Node ${process.version} (V8 ${process.versions.v8}), ${platform()}/${arch()}`,
    `CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} logical cores; load average ${load}`,
  ].join('\n');
}

/**
 * Times tasks whose every call performs `opsPerCall` operations (a batch, so the clock is read
 * once per batch, not once per operation).
 *
 * Tasks are measured in short slices, round-robin, and each reports the median slice: on a
 * shared machine a burst of outside load then spoils a slice of every task, not the whole
 * measurement of one, and the ratios between tasks stay honest. (One long block per task, as
 * tinybench runs them, let a single burst halve one row.)
 *
 * @example const [get] = await measure([{ name: 'get', opsPerCall: 1000, fn: async () => { ... } }]);
 * @returns per task, in the order given: `{ name, nsPerOp, opsPerSec, spread }`, where spread is
 *   half the interquartile range of the slices, as a fraction of the median.
 */
export async function measure(tasks, { rounds = 15, sliceMs = 60, warmupMs = 250 } = {}) {
  for (const task of tasks) await runFor(task, warmupMs);
  const slices = tasks.map(() => []);
  for (let round = 0; round < rounds; round++) {
    // Rotating the starting task keeps any one task from always following the same neighbour.
    for (let step = 0; step < tasks.length; step++) {
      const index = (round + step) % tasks.length;
      slices[index].push(await runFor(tasks[index], sliceMs));
    }
  }
  return tasks.map((task, index) => {
    const sorted = slices[index].sort((a, b) => a - b);
    const nsPerOp = quantile(sorted, 0.5);
    return {
      name: task.name,
      nsPerOp,
      opsPerSec: 1e9 / nsPerOp,
      spread: (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 2 / nsPerOp,
    };
  });
}

/** Calls the task until `ms` have passed (at least once); the mean ns per operation. */
async function runFor(task, ms) {
  globalThis.gc?.();
  let calls = 0;
  const start = performance.now();
  let elapsed;
  do {
    await task.fn();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (elapsed * 1e6) / (calls * task.opsPerCall);
}

function quantile(sorted, q) {
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

/** Prints rows (arrays of cells) under headers; columns of numbers are right-aligned. */
export function printTable(title, headers, rows) {
  const cells = [headers, ...rows].map((row) => row.map(String));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  const numeric = headers.map((_, column) => rows.every((row) => /^[\d.,x±%<-]+$/.test(String(row[column]))));
  const line = (row) =>
    row
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ');
  console.log(`\n${title}`);
  console.log(line(cells[0]));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of cells.slice(1)) console.log(line(row));
}

export const formatOps = (opsPerSec) => Math.round(opsPerSec).toLocaleString('en-US');
export const formatNs = (ns) => (ns >= 100 ? Math.round(ns).toLocaleString('en-US') : ns.toFixed(1));
export const formatRatio = (ratio) =>
  ratio < 0.01 ? '<0.01x' : `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}x`;
export const formatSpread = (spread) => `±${(spread * 100).toFixed(1)}%`;

/** Lets a suite run on its own: `node --expose-gc bench/locmem.bench.mjs`. */
export function isMain(importMetaUrl) {
  return process.argv[1] !== undefined && importMetaUrl === pathToFileURL(process.argv[1]).href;
}

/** A server address the `backends` suite provides (bench/backends.bench.mjs starts the servers). */
export function requireEnv(name) {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run this through \`npm run bench -- backends\`, which starts the servers.`);
  return value;
}
