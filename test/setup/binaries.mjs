// Finds the server programs the tests need, and installs Debian's packages for the missing ones when
// we may (root); otherwise names the exact install line, so a developer knows what to run.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The Debian package that brings each program. */
const DEBIAN_PACKAGE = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  memcached: 'memcached',
  postgres: 'postgresql',
  chromium: 'chromium',
};

/** Where Debian's chromium is; the browser test (test/sample/browser.e2e.spec.ts) drives this one. */
const CHROMIUM = '/usr/bin/chromium';

/** The PostgreSQL programs used by the runner (initdb, postgres, psql) and by fault tests (pg_ctl). */
const POSTGRES_PROGRAMS = ['postgres', 'initdb', 'pg_ctl', 'psql'];

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Searches PATH, plus the sbin folders a non-root PATH often lacks. */
function whichProgram(name) {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ];
  for (const dir of dirs) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

function hasPostgresPrograms(dir) {
  return POSTGRES_PROGRAMS.every((program) => isExecutable(join(dir, program)));
}

/**
 * The folder holding PostgreSQL's server programs: POSTGRES_BIN_DIR if set, else Debian's newest
 * /usr/lib/postgresql/<version>/bin (not on PATH there), else the folder of a `postgres` on PATH.
 */
function findPostgresBinDir() {
  if (process.env.POSTGRES_BIN_DIR)
    return hasPostgresPrograms(process.env.POSTGRES_BIN_DIR) ? process.env.POSTGRES_BIN_DIR : null;
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const dir = join(debianRoot, version, 'bin');
      if (hasPostgresPrograms(dir)) return dir;
    }
  }
  const onPath = whichProgram('postgres');
  const dir = onPath && onPath.slice(0, -'/postgres'.length);
  return dir && hasPostgresPrograms(dir) ? dir : null;
}

/** A program named by an environment variable, else found on PATH. */
function programFromEnv(variable, name) {
  const given = process.env[variable];
  if (given) return isExecutable(given) ? given : null;
  return whichProgram(name);
}

/** Where each program is (postgres: the folder of PostgreSQL's programs), or null where it is missing. */
export function locateBinaries() {
  return {
    'redis-server': programFromEnv('REDIS_SERVER_BIN', 'redis-server'),
    'redis-cli': whichProgram('redis-cli'),
    memcached: programFromEnv('MEMCACHED_BIN', 'memcached'),
    postgres: findPostgresBinDir(),
    chromium: isExecutable(CHROMIUM) ? CHROMIUM : null,
  };
}

/**
 * Returns the located programs, after installing the missing ones among `needed` (names as in
 * locateBinaries). Not root: prints the install line and exits 1 at once.
 */
export function ensureBinaries(needed) {
  let found = locateBinaries();
  const missing = needed.filter((name) => !found[name]);
  if (missing.length === 0) return found;

  const packages = [...new Set(missing.map((name) => DEBIAN_PACKAGE[name]))];
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    console.error(
      [
        `The tests need programs that are not installed: ${missing.join(', ')}. Install them with:`,
        '',
        `  sudo apt-get install -y ${packages.join(' ')}`,
        '',
        'or name where they are with REDIS_SERVER_BIN, MEMCACHED_BIN and POSTGRES_BIN_DIR (see test/setup/run-tests.mjs),',
        'or set NESTJS_CACHES_NO_SERVERS=1 for a quick run of the tests that need no server.',
      ].join('\n'),
    );
    process.exit(1);
  }

  console.log(`servers: installing ${packages.join(' ')} (missing: ${missing.join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (result.status !== 0)
      throw new Error(`apt-get ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
  found = locateBinaries();
  const stillMissing = needed.filter((name) => !found[name]);
  if (stillMissing.length > 0) throw new Error(`still missing after apt-get install: ${stillMissing.join(', ')}`);
  return found;
}
