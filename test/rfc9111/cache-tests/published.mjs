// The proxies' figures that the page cache is compared with: required passes (of 160) and optimal
// passes (of 105) as published on cache-tests.fyi, quoted in issue 21. The suite's package also
// ships older results of some of them (`results/*.json`), rescored here with this version's tests.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const PUBLISHED = [
  { name: 'Traffic Server', required: 132, optimal: 70, file: 'trafficserver.json' },
  { name: 'Apache httpd', required: 131, optimal: 68, file: 'apache.json' },
  { name: 'Squid', required: 122, optimal: 59, file: 'squid.json' },
  { name: 'Caddy', required: 121, optimal: 44, file: undefined },
  { name: 'Varnish', required: 119, optimal: 45, file: 'varnish.json' },
  { name: 'nginx', required: 99, optimal: 59, file: 'nginx.json' },
];

const resultsDir = join(dirname(createRequire(import.meta.url).resolve('http-cache-tests/package.json')), 'results');

/** Each bundled proxy result, scored by `score`, by file name. */
export function scoreBundledResults(score) {
  const scored = new Map();
  for (const { file } of PUBLISHED) {
    if (file !== undefined) scored.set(file, score(JSON.parse(readFileSync(join(resultsDir, file), 'utf8'))));
  }
  return scored;
}
