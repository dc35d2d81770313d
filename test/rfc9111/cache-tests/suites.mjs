// The tests the suite's command line runs: its index and the Surrogate-Control suite it adds.
import tests from 'http-cache-tests/tests/index.mjs';
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs';

export const suites = [...tests, surrogate];
