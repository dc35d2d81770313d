// One process of the cross-process stampede table in methods.bench.mjs: builds one library's
// cached function on redis, waits for the common start time, fires `callers` concurrent calls on a
// cold key and prints how long they took. The cached function counts its runs in redis.
// Usage: node bench/methods-worker.mjs <library> <redisUrl> <prefix> <startAtEpochMs> <callers>
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { cachedFunction } from './methods-libraries.mjs';

const [library, redisUrl, prefix, startAt, callers] = process.argv.slice(2);
const counter = new Redis(redisUrl);
const compute = async () => {
  await counter.incr(`${prefix}:runs`);
  await sleep(50);
  return { id: 1, title: 'Recipe 1' };
};
const { call, close } = await cachedFunction(library, compute, { redisUrl, prefix });
await sleep(Math.max(0, Number(startAt) - Date.now()));
const started = performance.now();
await Promise.all(Array.from({ length: Number(callers) }, () => call('recipe:1')));
process.stdout.write(JSON.stringify({ ms: performance.now() - started }));
await close();
counter.disconnect();
