// Runs the HTTP WG cache-tests suite's own client against one server under test, as the suite's
// `npm run cli` does, and prints its results JSON. A process of its own per run: the client keeps
// its results in module state.
//
//   node test/rfc9111/cache-tests/client.mjs <base url> [test id]
import fetch from 'node-fetch';
import { runTests, getResults } from 'http-cache-tests/client/runner.mjs';
import { suites } from './suites.mjs';

const [baseUrl, testId] = process.argv.slice(2);
const selected =
  testId === undefined
    ? suites
    : suites
        .map((suite) => ({ ...suite, tests: suite.tests.filter((test) => test.id === testId) }))
        .filter((suite) => suite.tests.length > 0);
if (testId !== undefined) for (const suite of selected) for (const test of suite.tests) test.dump = true;
await runTests(selected, fetch, false, baseUrl);
process.stdout.write(`${JSON.stringify(getResults())}\n`);
