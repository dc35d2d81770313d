// Shared by the suites: the machine header, an interleaved timing loop, a table printer and an SVG bar chart writer.
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform } from 'node:os';
import { dirname } from 'node:path';
import { setImmediate } from 'node:timers';
import { fileURLToPath, pathToFileURL } from 'node:url';

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
      // A turn of the event loop between slices, as a server gets between requests: timers and
      // sockets (a tiered alias's bus) are not starved by a run of synchronous hits.
      await new Promise(setImmediate);
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
export const formatNs = (ns) => (Math.abs(ns) >= 100 ? Math.round(ns).toLocaleString('en-US') : ns.toFixed(1));
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

/**
 * The command that ran this suite, for the chart it draws: bench/run.mjs passes on how it was
 * called (`npm run bench -- http`); a suite run on its own names its own file.
 */
export function benchCommand() {
  const relative = process.argv[1] ? `bench/${process.argv[1].split('/').pop()}` : 'bench';
  return process.env.NESTJS_CACHES_BENCH_COMMAND ?? `node --expose-gc ${relative}`;
}

/**
 * Writes a horizontal bar chart as a dependency-free SVG, with the machine header and the command
 * that made it as text inside, so the picture carries its own provenance. Bars are grouped; each
 * group has its own axis, starting at zero, and its bars' ratios are to the group's baseline bar
 * (measured in the same run). Bars of different groups are not drawn to the same scale.
 *
 * @example writeBarChart('docs/bench/http.svg', { title: 'GET hits', unit: 'req/s', bars: [{ group: 'express', label: 'constant', value: 4845, baseline: true }] });
 */
export function writeBarChart(
  file,
  { title, unit, bars, note = '', header = environmentHeader(), command = benchCommand() },
) {
  const groups = [];
  for (const bar of bars) {
    const name = bar.group ?? '';
    let group = groups.find((candidate) => candidate.name === name);
    if (!group) groups.push((group = { name, bars: [] }));
    group.bars.push(bar);
  }
  const width = 1120;
  const labelWidth = 300;
  const barLeft = labelWidth + 10;
  const barMax = 420;
  const rowHeight = 22;
  const lines = [];
  const text = (x, y, content, attributes = '') =>
    lines.push(`<text x="${x}" y="${y}"${attributes}>${escapeXml(content)}</text>`);
  let y = 28;
  text(16, y, title, ' class="title"');
  y += 20;
  for (const line of header.split('\n')) {
    text(16, y, line, ' class="meta"');
    y += 16;
  }
  text(16, y, `Made by: ${command} (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`, ' class="meta"');
  y += 16;
  for (const group of groups) {
    y += 14;
    const baseline = group.bars.find((bar) => bar.baseline);
    const max = Math.max(...group.bars.map((bar) => bar.value));
    if (group.name) {
      text(16, y + 12, group.name, ' class="group"');
      y += 22;
    }
    const top = y;
    for (const bar of group.bars) {
      const length = max > 0 ? (bar.value / max) * barMax : 0;
      const ratio = baseline ? bar.value / baseline.value : undefined;
      text(barLeft - 8, y + 15, bar.label, ' text-anchor="end"');
      lines.push(
        `<rect x="${barLeft}" y="${y + 3}" width="${length.toFixed(1)}" height="${rowHeight - 6}" class="${bar.baseline ? 'baseline' : 'bar'}"/>`,
      );
      const ratioText =
        ratio === undefined
          ? ''
          : bar.baseline
            ? ' · baseline (1.00x)'
            : ` · ${formatRatio(ratio)} vs ${baseline.label}`;
      text((barLeft + length + 6).toFixed(1), y + 15, `${formatOps(bar.value)} ${unit}${ratioText}`);
      y += rowHeight;
    }
    // The axis: zero at the left edge, the group's largest value at the right.
    lines.push(`<line x1="${barLeft}" y1="${top}" x2="${barLeft}" y2="${y + 2}" class="axis"/>`);
    lines.push(`<line x1="${barLeft}" y1="${y + 2}" x2="${barLeft + barMax}" y2="${y + 2}" class="axis"/>`);
    text(barLeft, y + 14, '0', ' class="tick" text-anchor="middle"');
    text(barLeft + barMax, y + 14, `${formatOps(max)} ${unit}`, ' class="tick" text-anchor="middle"');
    y += 18;
  }
  y += 8;
  for (const line of wrap(note, 170)) {
    text(16, y, line, ' class="meta"');
    y += 16;
  }
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 8}" viewBox="0 0 ${width} ${y + 8}" font-family="sans-serif" font-size="13">`,
    '<style>.title{font-size:16px;font-weight:bold}.group{font-weight:bold}.meta{font-size:11px;fill:#555}' +
      '.tick{font-size:10px;fill:#555}.bar{fill:#4c78a8}.baseline{fill:#9d9d9d}.axis{stroke:#333;stroke-width:1}</style>',
    `<rect width="${width}" height="${y + 8}" fill="#fff"/>`,
    ...lines,
    '</svg>',
    '',
  ].join('\n');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, svg);
  console.log(`Chart written to ${file}.`);
}

/** Where a suite's chart goes: docs/bench/<suite>.svg in the repository. */
export const chartPath = (suite) => fileURLToPath(new URL(`../docs/bench/${suite}.svg`, import.meta.url));

function escapeXml(value) {
  return String(value).replace(/[<>&"]/g, (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[char]);
}

function wrap(paragraph, columns) {
  const lines = [];
  let line = '';
  for (const word of paragraph.split(/\s+/).filter(Boolean)) {
    if (line && line.length + word.length + 1 > columns) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
