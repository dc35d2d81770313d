import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { redisDb } from '../support/addresses.js';

const run = promisify(execFile);

// `npm run soak`, shortened for CI: the built sample on redis at a fixed rate. What the soak itself
// judges (no errors, a flat heap) is asserted here from its JSON report, along with the rate it
// reached and the latency, so that a soak that quietly sent nothing cannot pass.
const SECONDS = Number(process.env.SOAK_SECONDS ?? 30);
const RATE = 200;

interface SoakReport {
  requests: number;
  achievedRate: number;
  errors: number;
  latencyMs: { p50: number; p99: number };
  memory: Array<{ second: number; heapUsed: number }>;
  heap: { bytesPerMinute: number; flat: boolean };
}

describe('npm run soak', () => {
  it(
    `serves the sample on redis at ${RATE} req/s for ${SECONDS} s with no error and a flat heap`,
    async () => {
      const { stdout } = await run(
        process.execPath,
        ['bench/soak.mjs', `--seconds=${SECONDS}`, `--rate=${RATE}`, `--redis=${redisDb(12)}`, '--json'],
        { maxBuffer: 16 << 20 },
      ).catch((error: { stdout?: string; stderr?: string }) => {
        throw new Error(`the soak failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
      });
      const report = JSON.parse(stdout.trim().split('\n').pop()!) as SoakReport;
      expect(report.errors).toBe(0);
      expect(report.requests).toBeGreaterThan(RATE * SECONDS * 0.9);
      expect(report.achievedRate).toBeGreaterThan(RATE * 0.9);
      expect(report.latencyMs.p99).toBeLessThan(1_000); // other test files share the cores
      expect(report.memory.length).toBeGreaterThan(10);
      expect(report.heap.bytesPerMinute).toBeLessThan(2 * 1024 * 1024);
      expect(report.heap.flat).toBe(true);
    },
    (SECONDS + 90) * 1000,
  );
});
