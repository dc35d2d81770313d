import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Headers, Injectable, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Cache, Cacheable, CacheEvict, CacheModule, CachePut } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../http/app/http-app.js';

// `vary` keeps one caller's result from another when the arguments do not name the caller:
// here the user comes from a request context (AsyncLocalStorage), as with nestjs-cls.
const currentUser = new AsyncLocalStorage<string | null>();
const as = <T>(user: string | null, call: () => Promise<T>) => currentUser.run(user, call);

@Injectable()
class DashboardService {
  runs = 0;

  @Cacheable({ key: 'dashboard', vary: () => currentUser.getStore() })
  async dashboard() {
    this.runs++;
    return { for: currentUser.getStore(), run: this.runs };
  }

  @CachePut({ key: 'dashboard', vary: () => currentUser.getStore() })
  async refresh() {
    return { for: currentUser.getStore(), refreshed: true };
  }

  @CacheEvict({ key: 'dashboard', vary: () => currentUser.getStore() })
  async forget() {}

  @Cacheable({ key: 'cyclic', vary: () => cyclic })
  async withCyclicIdentity() {
    return 'never cached';
  }
}

const cyclic: Record<string, unknown> = {};
cyclic.self = cyclic;

describe('@Cacheable with vary, on a service', () => {
  let service: DashboardService;
  let cache: Cache;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `vary-${Math.random()}` } })],
      providers: [DashboardService],
    }).compile();
    await moduleRef.init();
    service = moduleRef.get(DashboardService);
    cache = moduleRef.get(Cache);
  });

  it("gives each caller an entry of their own, and never another caller's", async () => {
    const alice = await as('alice', () => service.dashboard());
    const bob = await as('bob', () => service.dashboard());
    expect(alice).toEqual({ for: 'alice', run: 1 });
    expect(bob).toEqual({ for: 'bob', run: 2 });
    expect(await as('alice', () => service.dashboard())).toEqual(alice);
    expect(await as('bob', () => service.dashboard())).toEqual(bob);
    expect(service.runs).toBe(2);
    expect(await cache.get('dashboard')).toBeUndefined(); // no shared entry under the bare key
  });

  it('leaves the cache alone when no caller is known (undefined), so nothing is shared by mistake', async () => {
    const runs = service.runs;
    const first = await service.dashboard(); // outside any request context
    const second = await service.dashboard();
    expect(first).toEqual({ for: undefined, run: runs + 1 });
    expect(second).toEqual({ for: undefined, run: runs + 2 });
  });

  it('shares one entry among callers that vary returns null for', async () => {
    const first = await as(null, () => service.dashboard());
    expect(await as(null, () => service.dashboard())).toEqual(first);
    expect(await as('alice', () => service.dashboard())).toMatchObject({ for: 'alice' });
  });

  it('puts and evicts the entry of the caller only', async () => {
    await as('carol', () => service.dashboard());
    await as('dave', () => service.dashboard());
    await as('carol', () => service.refresh());
    expect(await as('carol', () => service.dashboard())).toEqual({ for: 'carol', refreshed: true });
    await as('carol', () => service.forget());
    const runs = service.runs;
    expect(await as('carol', () => service.dashboard())).toEqual({ for: 'carol', run: runs + 1 });
    expect(await as('dave', () => service.dashboard())).toMatchObject({ for: 'dave' }); // still cached
    expect(service.runs).toBe(runs + 1);
  });

  it('rejects, rather than throws, when the identity cannot be hashed (a cyclic object)', async () => {
    let call: Promise<unknown> | undefined;
    expect(() => (call = service.withCyclicIdentity())).not.toThrow();
    await expect(call).rejects.toThrow(/A cyclic argument cannot be part of a cache key/);
  });

  it('refuses a vary that is not a function, at boot', async () => {
    @Injectable()
    class Wrong {
      @Cacheable({ key: 'k', vary: 'user' as never })
      read() {
        return 1;
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `vary-wrong-${Math.random()}` } })],
      providers: [Wrong],
    }).compile();
    await expect(moduleRef.init()).rejects.toThrow(/Wrong\.read: vary must be a function of the arguments/);
  });
});

@Controller('me')
class ProfileController {
  runs = 0;

  // The same key for everyone: vary on the credentials is what keeps users apart.
  @Get()
  @Cacheable({ key: 'profile', timeout: 60, vary: ([authorization]) => authorization })
  profile(@Headers('authorization') authorization: string | undefined) {
    this.runs++;
    return { user: authorization?.replace('Bearer ', '') ?? null, run: this.runs };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `vary-http-${Math.random()}` } })],
  controllers: [ProfileController],
})
class ProfileModule {}

describe.each(ADAPTERS)('@Cacheable with vary on a controller route (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, ProfileModule));
  });
  afterAll(() => app.close());

  it('answers two users over HTTP from entries of their own', async () => {
    const as = (token: string) => request(url).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    const alice = (await as('alice')).body;
    const bob = (await as('bob')).body;
    expect(alice.user).toBe('alice');
    expect(bob.user).toBe('bob');
    expect((await as('alice')).body).toEqual(alice);
    expect((await as('bob')).body).toEqual(bob);
    expect(app.get(ProfileController).runs).toBe(2);
    // Without credentials there is no one to vary on: never cached, never someone else's.
    const anonymous = (await request(url).get('/me').expect(200)).body;
    expect(anonymous.user).toBeNull();
    expect((await request(url).get('/me').expect(200)).body.run).toBe(anonymous.run + 1);
  });
});
