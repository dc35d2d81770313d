import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { Cacheable, CacheModule, CachePage, Caches } from '../../lib/index.js';
import { freePort } from '../support/addresses.js';
import { ADAPTERS, startApp } from '../http/app/http-app.js';
import { answersUnderLoad, cachesAgain, KillableServer } from './fault-servers.js';

// While the store of an alias is killed and started again under load: every request still
// answers, from the source, within the command timeout plus the handler's own time; nothing
// hangs or crashes; caching resumes by itself once the server is back.
const COMMAND_TIMEOUT_MS = 200;
const HANDLER_MS = 20;
const LOAD = 20; // requests in flight at once

@Injectable()
class Source {
  runs = 0;
  async read(what: string) {
    this.runs++;
    await new Promise((resolve) => setTimeout(resolve, HANDLER_MS));
    return { what, at: Date.now() };
  }

  @Cacheable({ key: 'method:{0}', cache: 'store', timeout: 60 })
  cachedRead(what: string) {
    return this.read(what);
  }

  @Cacheable({ key: 'tiered:{0}', cache: 'tiered', timeout: 60 })
  tieredRead(what: string) {
    return this.read(what);
  }
}

@Controller('faults')
class FaultsController {
  constructor(private readonly source: Source) {}

  @Get('page')
  @CachePage(60, { cache: 'store' })
  page() {
    return this.source.read('page');
  }

  @Get('method')
  method() {
    return this.source.cachedRead('method');
  }

  @Get('tiered')
  tiered() {
    return this.source.tieredRead('tiered');
  }
}

function faultsModule(store: object) {
  @Module({
    imports: [
      CacheModule.forRoot({
        default: { backend: 'locmem', location: `faults-${Math.random()}` },
        store: { ...store, commandTimeoutMs: COMMAND_TIMEOUT_MS, circuitBreaker: { failures: 3, breakSeconds: 0.5 } },
        l1: { backend: 'locmem', location: `faults-l1-${Math.random()}` },
        tiered: { backend: 'tiered', tiers: ['l1', 'store'] },
      } as never),
    ],
    controllers: [FaultsController],
    providers: [Source],
  })
  class FaultsModule {}
  return FaultsModule;
}

type Kind = 'redis' | 'memcached';
const kinds: Kind[] = ['redis', 'memcached'];
const cases = ADAPTERS.flatMap((adapter) => kinds.map((kind) => [adapter, kind] as const));

describe.each(cases)('on %s, with %s killed and restarted under load', (adapter, kind) => {
  let server: KillableServer;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    server = kind === 'redis' ? KillableServer.redis(port) : KillableServer.memcached(port);
    await server.start();
    const store =
      kind === 'redis'
        ? { backend: 'redis', location: `redis://127.0.0.1:${port}/0` }
        : { backend: 'memcached', location: [`127.0.0.1:${port}`] };
    ({ app, url } = await startApp(adapter, faultsModule(store)));
  });

  afterAll(async () => {
    await app?.close();
    await server?.kill();
  });

  it.each(['page', 'method', 'tiered'])(
    '/faults/%s answers throughout, and caches again after',
    async (route) => {
      const path = `/faults/${route}`;
      await request(url).get(path).expect(200);
      await request(url).get(path).expect(200);
      await server.kill();
      if (route === 'tiered') await app.get(Caches).get('l1').clear(); // reads must go down to the dead tier
      const during = await answersUnderLoad(url, () => path, 1_000, LOAD);
      expect(during.statuses.length).toBeGreaterThan(LOAD);
      expect(new Set(during.statuses)).toEqual(new Set([200]));
      // A request waits for at most one command timeout per store call, plus the handler.
      expect(during.slowestMs).toBeLessThan(3 * COMMAND_TIMEOUT_MS + HANDLER_MS + 500);

      await server.start();
      const source = app.get(Source);
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
