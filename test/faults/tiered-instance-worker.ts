// One application instance of the multi-process tiered tests (tiered-staleness.e2e.spec.ts):
// boots CacheModule.forRoot with a tiered alias (its own locmem L1, a shared redis L2, a redis
// bus) and runs the parent's commands over IPC, logging each operation on the machine's one
// clock (performance.timeOrigin + performance.now() is the same clock in every process).
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheModule, Caches } from '../../lib/index.js';

const [id, l2Url, busUrl] = process.argv.slice(2) as [string, string, string];

export interface LoggedOp {
  op: 'get' | 'set' | 'delete';
  key: string;
  /** What a set wrote or a get returned; null: a miss or a delete. */
  value: string | null;
  start: number;
  end: number;
  ok: boolean;
}

export type Command =
  | { cmd: 'load'; keys: string[]; until: number; writeShare: number; burst?: { writeMs: number; everyMs: number } }
  | { cmd: 'get'; key: string }
  | { cmd: 'set'; key: string; value: string; at?: number }
  | { cmd: 'lowest'; keys: string[] };

@Module({
  imports: [
    CacheModule.forRoot({
      default: { backend: 'locmem', location: `tiered-instance-${id}`, options: { maxEntries: 10_000 } },
      l2: { backend: 'redis', location: l2Url, commandTimeoutMs: 300, circuitBreaker: false },
      shared: { backend: 'tiered', tiers: ['default', 'l2'], bus: busUrl, commandTimeoutMs: 300, timeout: 300 },
    }),
  ],
})
class InstanceModule {}

const app = await NestFactory.createApplicationContext(InstanceModule, { logger: false });
const caches = app.get(Caches);
const shared = caches.get('shared');
const now = () => performance.timeOrigin + performance.now();
let seq = 0;

async function logged(op: LoggedOp['op'], key: string, run: () => Promise<unknown>, value: string | null = null) {
  const start = now();
  let ok = true;
  try {
    const got = await run();
    if (op === 'get') value = (got as string | undefined) ?? null;
  } catch {
    ok = false;
  }
  return { op, key, value, start, end: now(), ok } satisfies LoggedOp;
}

/** `burst`: writes only in the first `writeMs` of every `everyMs` (of the one clock, so all processes agree). */
async function load(keys: string[], until: number, writeShare: number, burst?: { writeMs: number; everyMs: number }) {
  const log: LoggedOp[] = [];
  while (now() < until) {
    const key = keys[Math.floor(Math.random() * keys.length)]!;
    const writing = burst === undefined || now() % burst.everyMs < burst.writeMs;
    const dice = writing ? Math.random() : 1;
    if (dice < writeShare * 0.8) {
      const value = `${id}:${seq++}`;
      log.push(await logged('set', key, () => shared.set(key, value), value));
    } else if (dice < writeShare) log.push(await logged('delete', key, () => shared.delete(key)));
    else log.push(await logged('get', key, () => shared.get(key)));
    // A few reads per millisecond at most, as an app instance, and a log the parent can check;
    // writes in a burst go as fast as they can, to race.
    if (!(writing && burst) && log.length % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return log;
}

async function run(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'load':
      return load(command.keys, command.until, command.writeShare, command.burst);
    case 'get':
      return logged('get', command.key, () => shared.get(command.key));
    case 'set': {
      // Waits for an agreed instant, so that several processes write at the same time.
      while (command.at !== undefined && now() < command.at) await new Promise(setImmediate);
      return logged('set', command.key, () => shared.set(command.key, command.value), command.value);
    }
    case 'lowest':
      return Object.fromEntries(
        await Promise.all(command.keys.map(async (key) => [key, (await caches.get('l2').get(key)) ?? null])),
      );
  }
}

process.on('message', (message: { n: number; command: Command | { cmd: 'exit' } }) => {
  if (message.command.cmd === 'exit') {
    void app.close().then(() => process.exit(0));
    return;
  }
  void run(message.command).then((result) => process.send!({ n: message.n, result }));
});
process.send!({ ready: true });
