// The suite's own scoring, as cache-tests.fyi shows it: each result goes through the suite's
// determineTestResult (dependencies honoured: a test whose dependency failed is not a pass), and
// passes are counted by the test's `kind` (`required`, the default, and `optimal`).
import { determineTestResult } from 'http-cache-tests/lib/display.mjs';
import { suites } from './suites.mjs';

/** The tests a cache (not a browser) is run on. */
const cacheTests = suites.flatMap((suite) => suite.tests).filter((test) => test.browser_only !== true);
const kindOf = (test) => test.kind ?? 'required';

export const totals = {
  required: cacheTests.filter((test) => kindOf(test) === 'required').length,
  optimal: cacheTests.filter((test) => kindOf(test) === 'optimal').length,
};

/**
 * Required and optimal passes of one results JSON, and the tests it does not pass (with the
 * suite's symbol and the harness's message), for the report.
 */
export function score(results) {
  const passed = { required: 0, optimal: 0 };
  const missed = [];
  for (const test of cacheTests) {
    const kind = kindOf(test);
    if (kind !== 'required' && kind !== 'optimal') continue;
    const [, , symbol] = determineTestResult(suites, test.id, results);
    if (symbol === '✅') passed[kind]++;
    else missed.push({ id: test.id, kind, symbol, message: messageOf(results[test.id]) });
  }
  return { ...passed, missed };
}

function messageOf(result) {
  if (result === undefined) return 'not run';
  return Array.isArray(result) ? result.join(': ') : String(result);
}
