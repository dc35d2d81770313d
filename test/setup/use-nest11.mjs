// Puts the NestJS 11 line into node_modules (NestJS 11's packages, @nestjs/typeorm 11, TypeORM 0.3),
// without touching package.json or the lock, so `npm test` then runs the same suite on it:
//
//   node test/setup/use-nest11.mjs && npm test     the suite on NestJS 11
//   npm ci                                          back to the locked NestJS 12 install
//
// CI does this after its NestJS 12 run. Exact versions, so every run tests the same NestJS 11.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NEST_11_PACKAGES } from './nest11-packages.mjs';

const root = join(import.meta.dirname, '..', '..');

const specs = Object.entries(NEST_11_PACKAGES).map(([name, version]) => `${name}@${version}`);
console.log(`nest11: npm install --no-save ${specs.join(' ')}`);
const install = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', ...specs], {
  cwd: root,
  stdio: 'inherit',
});
if (install.status !== 0) process.exit(install.status ?? 1);

// npm may keep a nested copy and leave the top-level one: check what the suite will import.
const wrong = Object.entries(NEST_11_PACKAGES).filter(([name, version]) => {
  const installed = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  return installed !== version;
});
if (wrong.length > 0) {
  console.error(`nest11: node_modules still has other versions of ${wrong.map(([name]) => name).join(', ')}`);
  process.exit(1);
}
console.log('nest11: node_modules now holds the NestJS 11 line; `npm ci` restores the locked one');
