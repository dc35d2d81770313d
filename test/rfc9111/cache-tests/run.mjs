// Scores the page cache on the HTTP WG's cache-tests suite (`http-cache-tests`), as cache-tests.fyi
// scores a reverse proxy: the suite's origin server, a Nest app in front of it that proxies every
// request with the page cache in front of the proxy route (proxy-app.ts), and the suite's client
// against that app. One run per platform and form; prints required and optimal passes of each
// beside the proxies' figures.
//
//   node test/rfc9111/cache-tests/run.mjs                         every configuration
//   node test/rfc9111/cache-tests/run.mjs express-site            some of them
//   node test/rfc9111/cache-tests/run.mjs express-site --id ID    one test, with its exchanges
//   --out DIR   where each configuration's results JSON and missed tests go
//               (default $TMPDIR/nestjs-caches-cache-tests)
//
// Configurations: express-site, fastify-site (the per-site cache), express-decorator,
// fastify-decorator (`@CachePage(300)` on the proxy route), and reference: lib/http/rfc9111's
// rules alone in a plain reverse proxy (reference-cache.ts), what `rules: 'rfc9111'` should reach,
// with heuristic freshness on, and reference-no-heuristic, with it off (the rules' default).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
// The suite is installed here on first use, not as a devDependency of the project: its package
// depends on npm 6, whose `npm` binary would shadow the real one in every npm script.
const suiteDir = resolve(here, 'node_modules/http-cache-tests');
if (!existsSync(suiteDir)) {
  const installed = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], {
    cwd: here,
    stdio: 'inherit',
  });
  if (installed.status !== 0) throw new Error(`npm install of http-cache-tests in ${here} failed`);
}
const { PUBLISHED, scoreBundledResults } = await import('./published.mjs');
const { score, totals } = await import('./score.mjs');
const CONFIGURATIONS = [
  'express-site',
  'fastify-site',
  'express-decorator',
  'fastify-decorator',
  'reference',
  'reference-no-heuristic',
];

const args = process.argv.slice(2);
const optionValue = (name) => {
  const at = args.indexOf(name);
  return at === -1 ? undefined : args.splice(at, 2)[1];
};
const testId = optionValue('--id');
const outDir = optionValue('--out') ?? join(tmpdir(), 'nestjs-caches-cache-tests');
const chosen = args.length > 0 ? args : CONFIGURATIONS;
for (const name of chosen) {
  if (!CONFIGURATIONS.includes(name)) throw new Error(`Unknown configuration '${name}': one of ${CONFIGURATIONS}.`);
}

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

/** Starts a child and resolves with it and the first line it prints that `ready` accepts. */
async function startChild(command, childArgs, options, ready) {
  const child = spawn(command, childArgs, { ...options, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${childArgs.join(' ')} exited (${code}) before it was ready`);
  });
  const line = await Promise.race([
    (async () => {
      for await (const text of lines) if (ready(text)) return text;
      return undefined;
    })(),
    exited,
  ]);
  exited.catch(() => {});
  if (line === undefined) throw new Error(`${childArgs.join(' ')} closed its output before it was ready`);
  return { child, line };
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Runs the suite's client against one server under test; resolves with its results JSON. */
async function runClient(baseUrl) {
  const client = spawn(process.execPath, [join(here, 'client.mjs'), baseUrl, ...(testId ? [testId] : [])], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  client.stdout.setEncoding('utf8').on('data', (text) => (output += text));
  const [code] = await once(client, 'exit');
  if (code !== 0) throw new Error(`The cache-tests client exited with ${code}.`);
  if (testId !== undefined) process.stdout.write(output);
  return JSON.parse(output.trim().split('\n').at(-1));
}

async function scoreConfiguration(name, originPort) {
  const dash = name.indexOf('-');
  const [adapter, form] = dash === -1 ? [name, undefined] : [name.slice(0, dash), name.slice(dash + 1)];
  const server =
    adapter === 'reference'
      ? [join(here, 'reference-cache.ts'), String(originPort), ...(form === undefined ? [] : [form])]
      : [join(here, 'proxy-app.ts'), adapter, form, String(originPort)];
  const { child, line } = await startChild(
    process.execPath,
    ['--import', './test/support/register-ts.mjs', ...server],
    { cwd: root },
    (text) => text.startsWith('{'),
  );
  try {
    const results = await runClient(JSON.parse(line).url);
    const scored = score(results);
    writeFileSync(join(outDir, `${name}.json`), JSON.stringify(results, null, 2));
    writeFileSync(join(outDir, `${name}.missed.json`), JSON.stringify(scored.missed, null, 2));
    return scored;
  } finally {
    await stop(child);
  }
}

mkdirSync(outDir, { recursive: true });
const originPort = await freePort();
const { child: origin } = await startChild(
  process.execPath,
  [join(suiteDir, 'server/server.mjs')],
  {
    cwd: suiteDir,
    env: {
      ...process.env,
      npm_config_protocol: 'http',
      npm_config_port: String(originPort),
      npm_config_pidfile: join(outDir, 'origin.pid'),
    },
  },
  (text) => text.startsWith('Listening'),
);
const rows = [];
try {
  for (const name of chosen) {
    const { required, optimal } = await scoreConfiguration(name, originPort);
    rows.push([name, required, optimal]);
  }
} finally {
  await stop(origin);
}
if (testId === undefined) {
  const bundled = scoreBundledResults(score);
  console.log(`\nRequired of ${totals.required}, optimal of ${totals.optimal} (this suite, http-cache-tests):`);
  console.log('| cache | required | optimal | published (issue 21) | bundled results, rescored |');
  console.log('|---|---|---|---|---|');
  for (const [name, required, optimal] of rows) console.log(`| ${name} | ${required} | ${optimal} | | |`);
  for (const { name, required, optimal, file } of PUBLISHED) {
    const again = file === undefined ? undefined : bundled.get(file);
    const rescored = again === undefined ? '' : `${again.required} / ${again.optimal}`;
    console.log(`| ${name} | | | ${required} / ${optimal} | ${rescored} |`);
  }
  console.log(`\nResults and missed tests of each configuration: ${outDir}`);
}
