// What spans cost the two hottest calls, a locmem get hit and a @Cacheable hit: with tracing off
// (`tracing: false`), with @opentelemetry/api present but no tracer provider registered (the
// default: it must cost nothing), and with a provider recording every span (dropped, not exported:
// the price of making them). Ratios are to an async Map read measured in the same run.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { Cache, Cacheable, CacheModule } from '../dist/index.js';
import { environmentHeader, formatNs, formatRatio, formatSpread, isMain, measure, printTable } from './harness.mjs';

const KEY_COUNT = 1000;
const BATCH = 100;
const keys = Array.from({ length: KEY_COUNT }, (_, i) => `item:${i}`);
const value = (i) => ({ id: i, name: `Item ${i}`, email: `item${i}@example.com`, active: i % 2 === 0 });

class Items {
  async find(id) {
    return value(id);
  }
}
const descriptor = Object.getOwnPropertyDescriptor(Items.prototype, 'find');
Cacheable({ key: 'found:{0}' })(Items.prototype, 'find', descriptor);
Object.defineProperty(Items.prototype, 'find', descriptor); // the trampoline the decorator put in
Injectable()(Items);

async function boot(tracing, location) {
  class BenchModule {}
  Module({
    imports: [
      CacheModule.forRoot({ default: { backend: 'locmem', location, options: { maxEntries: 10_000 } } }, { tracing }),
    ],
    providers: [Items],
  })(BenchModule);
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const cache = app.get(Cache);
  const items = app.get(Items);
  for (let i = 0; i < KEY_COUNT; i++) {
    await cache.set(keys[i], value(i));
    await items.find(i);
  }
  return { app, cache, items };
}

/** `BATCH` awaited calls per task run, cycling through the keys. */
function batched(name, call) {
  let next = 0;
  return {
    name,
    opsPerCall: BATCH,
    fn: async () => {
      for (let i = 0; i < BATCH; i++) {
        await call(next);
        next = (next + 1) % KEY_COUNT;
      }
    },
  };
}

export async function run() {
  const map = new Map(keys.map((key, i) => [key, value(i)]));
  const mapGet = async (key) => map.get(key);
  const off = await boot(false, 'bench-tracing-off');
  const idle = await boot(undefined, 'bench-tracing-idle');
  const recording = new BasicTracerProvider();
  const tasks = [
    batched('async Map read (baseline)', (i) => mapGet(keys[i])),
    batched('locmem get, tracing: false', (i) => off.cache.get(keys[i])),
    batched('locmem get, API present, no provider', (i) => idle.cache.get(keys[i])),
    batched('@Cacheable hit, tracing: false', (i) => off.items.find(i)),
    batched('@Cacheable hit, API present, no provider', (i) => idle.items.find(i)),
  ];
  const results = await measure(tasks);
  trace.setGlobalTracerProvider(recording);
  const traced = await measure([
    tasks[0],
    batched('locmem get, provider registered', (i) => idle.cache.get(keys[i])),
    batched('@Cacheable hit, provider registered', (i) => idle.items.find(i)),
  ]);
  trace.disable();
  const baseline = results[0].nsPerOp;
  const row = (result, against) => [
    result.name,
    formatNs(result.nsPerOp),
    formatSpread(result.spread),
    formatRatio(result.nsPerOp / against),
  ];
  printTable(
    'Spans off, idle (API, no provider)',
    ['call', 'ns/op', 'spread', 'vs async Map'],
    results.map((r) => row(r, baseline)),
  );
  printTable(
    'Idle against off, same run',
    ['call', 'idle / off'],
    [
      ['locmem get', formatRatio(results[2].nsPerOp / results[1].nsPerOp)],
      ['@Cacheable hit', formatRatio(results[4].nsPerOp / results[3].nsPerOp)],
    ],
  );
  printTable(
    'Provider registered (every span made, then dropped)',
    ['call', 'ns/op', 'spread', 'vs async Map'],
    traced.map((r) => row(r, traced[0].nsPerOp)),
  );
  await off.app.close();
  await idle.app.close();
}

if (isMain(import.meta.url)) {
  console.log(environmentHeader());
  await run();
}
