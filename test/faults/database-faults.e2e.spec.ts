import 'reflect-metadata';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { Cacheable, CacheModule, CachePage } from '../../lib/index.js';
import { POSTGRES_DATABASE, TestServers } from '../setup/servers.mjs';
import { startApp } from '../http/app/http-app.js';
import { answersUnderLoad, cachesAgain } from './fault-servers.js';

// PostgreSQL stopped (SIGSTOP on its whole process group: sockets stay open, nothing answers)
// under the database backend, then resumed. The pool's queries would wait for ever: the
// alias's commandTimeoutMs and circuit breaker keep every request answering from the source.
const COMMAND_TIMEOUT_MS = 200;

@Injectable()
class Source {
  runs = 0;
  @Cacheable({ key: 'db-method', cache: 'db', timeout: 60 })
  async read() {
    this.runs++;
    return { at: Date.now() };
  }
}

@Controller('db-faults')
class DatabaseFaultsController {
  constructor(private readonly source: Source) {}

  @Get('page')
  @CachePage(60, { cache: 'db' })
  page() {
    return this.source.read();
  }

  @Get('method')
  method() {
    return this.source.read();
  }
}

describe('the database backend while PostgreSQL is stopped, then resumed', () => {
  let dir: string;
  let servers: TestServers;
  let postgresGroup: number;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nestjs-caches-db-faults-'));
    chmodSync(dir, 0o755); // PostgreSQL runs as its own user and must reach its folder
    servers = new TestServers(dir, { postgres: process.env.POSTGRES_BIN_DIR }); // set by npm test
    const port = await servers.startPostgres();
    // Started detached: its process group is the postmaster's pid, and holds every backend process.
    postgresGroup = Number(readFileSync(join(dir, 'server-pids'), 'utf8').trim().split(' ')[1]);
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/${POSTGRES_DATABASE}` }),
        CacheModule.forRoot({
          default: { backend: 'locmem', location: `db-faults-${Math.random()}` },
          db: {
            backend: 'database',
            location: 'db_faults_cache',
            options: { createTable: true },
            commandTimeoutMs: COMMAND_TIMEOUT_MS,
            circuitBreaker: { failures: 3, breakSeconds: 0.5 },
          },
        }),
      ],
      controllers: [DatabaseFaultsController],
      providers: [Source],
    })
    class DatabaseFaultsModule {}
    ({ app, url } = await startApp('express', DatabaseFaultsModule));
  }, 60_000);

  afterAll(async () => {
    if (postgresGroup) process.kill(-postgresGroup, 'SIGCONT');
    await app?.close();
    await servers?.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['page', 'method'])(
    '/db-faults/%s answers throughout, and caches again after',
    async (route) => {
      const path = `/db-faults/${route}`;
      await request(url).get(path).expect(200);
      await request(url).get(path).expect(200);
      const source = app.get(Source);
      process.kill(-postgresGroup, 'SIGSTOP');
      try {
        const during = await answersUnderLoad(url, () => path, 1_500, 10);
        expect(during.statuses.length).toBeGreaterThan(20);
        expect(new Set(during.statuses)).toEqual(new Set([200]));
        expect(during.slowestMs).toBeLessThan(3 * COMMAND_TIMEOUT_MS + 500);
      } finally {
        process.kill(-postgresGroup, 'SIGCONT');
      }
      expect(
        await cachesAgain(
          () => request(url).get(path).expect(200),
          () => source.runs,
          route === 'page',
        ),
      ).toBe(true);
    },
    40_000,
  );
});
