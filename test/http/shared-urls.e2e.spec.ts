import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  Controller,
  ForbiddenException,
  Get,
  Head,
  HostParam,
  Injectable,
  Module,
  Req,
  UseGuards,
  VersioningType,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type VersioningOptions,
} from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, RouteConstraints, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { IncomingMessage } from 'node:http';
import request from 'supertest';
import { CacheModule, CachePage } from '../../lib/index.js';
import { ADAPTERS, startApp } from './app/http-app.js';

// Nest can route one method and path to several handlers, by something other than the URL. A
// page learned on an open handler must never answer a request that routing gives to a guarded one.

@Injectable()
class AllowGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    if (request.headers['x-allow'] !== 'yes') throw new ForbiddenException('X-Allow: yes required');
    return true;
  }
}

let handled = 0;

@Controller({ path: 'versioned', version: '1' })
class OpenV1Controller {
  @Get()
  @CachePage(60)
  page() {
    return { version: 1, run: ++handled };
  }
}

@Controller({ path: 'versioned', version: '2' })
@UseGuards(AllowGuard)
class GuardedV2Controller {
  @Get()
  @CachePage(60)
  page() {
    return { version: 2, run: ++handled };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `shared-urls-${Math.random()}` } })],
  controllers: [OpenV1Controller, GuardedV2Controller],
  providers: [AllowGuard],
})
class VersionedModule {}

/** How each kind of versioning that keeps the version out of the URL is asked for a version. */
const VERSIONINGS: Array<[string, VersioningOptions, (version: string) => Record<string, string>]> = [
  ['HEADER', { type: VersioningType.HEADER, header: 'X-Version' }, (version) => ({ 'X-Version': version })],
  [
    'MEDIA_TYPE',
    { type: VersioningType.MEDIA_TYPE, key: 'v=' },
    (version) => ({ Accept: `application/json;v=${version}` }),
  ],
  [
    'CUSTOM',
    {
      type: VersioningType.CUSTOM,
      extractor: (request) => (request as { headers: Record<string, string> }).headers['x-custom-version'] ?? '',
    },
    (version) => ({ 'X-Custom-Version': version }),
  ],
];

describe.each(ADAPTERS)('handlers sharing a URL, on %s', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it.each(VERSIONINGS)(
    '%s versioning: a page of the open v1 never answers v2, whose guard still runs',
    async (_type, versioning, asking) => {
      let url: string;
      ({ app, url } = await startApp(adapter, VersionedModule, (nest) => nest.enableVersioning(versioning)));
      const get = (version: string) => request(url).get('/versioned').set(asking(version));
      const v1 = await get('1').expect(200);
      expect([v1.headers['x-cache'], v1.body.version]).toEqual(['MISS', 1]);
      for (let i = 0; i < 2; i++) expect((await get('1').expect(200)).headers['x-cache']).toBe('HIT');
      await get('2').expect(403);
      const v2 = await get('2').set('X-Allow', 'yes').expect(200);
      expect([v2.headers['x-cache'], v2.body.version]).toEqual(['MISS', 2]);
      const v2Again = await get('2').set('X-Allow', 'yes').expect(200);
      expect([v2Again.headers['x-cache'], v2Again.text]).toEqual(['HIT', v2.text]);
      await get('2').expect(403);
      const v1Again = await get('1').expect(200);
      expect([v1Again.headers['x-cache'], v1Again.text]).toEqual(['HIT', v1.text]);
    },
  );
});

/** Two controllers with one class name, as two feature modules may have: only their versions differ. */
function twinController(version: string) {
  @Controller({ path: 'twins', version })
  class RecipesController {
    @Get()
    @CachePage(60)
    page() {
      return { version, run: ++handled };
    }
  }
  return RecipesController;
}

const twinsStore = `twins-${Math.random()}`;

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: twinsStore } })],
  controllers: [twinController('1'), twinController('2')],
})
class TwinsModule {}

/** The same app with its controllers listed the other way round, on the same store. */
@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: twinsStore } })],
  controllers: [twinController('2'), twinController('1')],
})
class ReorderedTwinsModule {}

describe.each(ADAPTERS)('controllers with one class name at one URL, on %s', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
  });

  it('keep their pages apart', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, TwinsModule, (nest) =>
      nest.enableVersioning({ type: VersioningType.HEADER, header: 'X-Version' }),
    ));
    const get = (version: string) => request(url).get('/twins').set('X-Version', version);
    expect((await get('1').expect(200)).body.version).toBe('1');
    expect((await get('1').expect(200)).headers['x-cache']).toBe('HIT');
    const v2 = await get('2').expect(200);
    expect([v2.headers['x-cache'], v2.body.version]).toEqual(['MISS', '2']);
    expect((await get('2').expect(200)).body.version).toBe('2');
  });

  it('agree on their keys with an instance that loads them in another order', async () => {
    let url: string;
    const versioning = (nest: INestApplication) =>
      nest.enableVersioning({ type: VersioningType.HEADER, header: 'X-Version' });
    ({ app, url } = await startApp(adapter, TwinsModule, versioning));
    const other = await startApp(adapter, ReorderedTwinsModule, versioning);
    try {
      const host = new URL(url).host; // one Host for both instances, as behind one name
      const get = (base: string, version: string) =>
        request(base).get('/twins').set('Host', host).set('X-Version', version);
      await get(url, '1').expect(200);
      await get(url, '2').expect(200);
      for (const version of ['1', '2']) {
        const answer = await get(other.url, version).expect(200);
        expect([answer.headers['x-cache'], answer.body.version]).toEqual(['HIT', version]);
      }
    } finally {
      await other.app.close();
    }
  });
});

@Controller('headed')
class HeadedController {
  /** Declared first: Express gives a HEAD to the first route that takes it, a GET route included. */
  @Head()
  @UseGuards(AllowGuard)
  head() {
    return undefined;
  }

  @Get()
  @CachePage(60)
  get() {
    return { run: ++handled };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `headed-${Math.random()}` } })],
  controllers: [HeadedController],
  providers: [AllowGuard],
})
class HeadedModule {}

describe.each(ADAPTERS)('a HEAD handler of its own, on %s', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
  });

  it('is not skipped by a page learned on the GET handler of the same path', async () => {
    let url: string;
    ({ app, url } = await startApp(adapter, HeadedModule));
    await request(url).get('/headed').expect(200);
    expect((await request(url).get('/headed').expect(200)).headers['x-cache']).toBe('HIT');
    await request(url).head('/headed').expect(403);
    await request(url).head('/headed').set('X-Allow', 'yes').expect(200);
  });
});

@Controller({ path: 'hosted', host: 'admin.test' })
@UseGuards(AllowGuard)
class AdminController {
  @Get()
  @CachePage(60)
  page() {
    return { site: 'admin', run: ++handled };
  }
}

@Controller('hosted')
class PublicController {
  @Get()
  @CachePage(60)
  page() {
    return { site: 'public', run: ++handled };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `hosted-${Math.random()}` } })],
  // The host-bound controller first: a route without a host takes every host.
  controllers: [AdminController, PublicController],
  providers: [AllowGuard],
})
class HostedModule {}

describe('a host-bound controller behind a trusted proxy, on express', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
  });

  // Express routes by `req.hostname`, which a trusted proxy's X-Forwarded-Host sets; the key has `Host`.
  it('is not skipped by a page learned for the same Host on the open controller', async () => {
    let url: string;
    ({ app, url } = await startApp('express', HostedModule, (nest) =>
      (nest as NestExpressApplication).set('trust proxy', true),
    ));
    const get = () => request(url).get('/hosted').set('Host', 'www.test');
    const open = await get().expect(200);
    expect([open.headers['x-cache'], open.body.site]).toEqual(['MISS', 'public']);
    expect((await get().expect(200)).headers['x-cache']).toBe('HIT');
    await get().set('X-Forwarded-Host', 'admin.test').expect(403);
    const admin = await get().set('X-Forwarded-Host', 'admin.test').set('X-Allow', 'yes').expect(200);
    expect(admin.body.site).toBe('admin');
  });
});

@Controller('constrained')
class OpenConstrainedController {
  @Get()
  @CachePage(60)
  page() {
    return { who: 'anyone', run: ++handled };
  }
}

@Controller('constrained')
@UseGuards(AllowGuard)
class LockedConstrainedController {
  @Get()
  @RouteConstraints({ tenant: 'locked' })
  @CachePage(60)
  page() {
    return { who: 'the locked tenant', run: ++handled };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `constrained-${Math.random()}` } })],
  controllers: [OpenConstrainedController, LockedConstrainedController],
  providers: [AllowGuard],
})
class ConstrainedModule {}

@Controller('rewritten')
class RewrittenController {
  @Get()
  @CachePage(60)
  open() {
    return { who: 'anyone', run: ++handled };
  }

  @Get('admin')
  @UseGuards(AllowGuard)
  @CachePage(60)
  admin() {
    return { who: 'admin', run: ++handled };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `rewritten-${Math.random()}` } })],
  controllers: [RewrittenController],
  providers: [AllowGuard],
})
class RewrittenModule {}

/** Sends `X-Admin: yes` requests to the admin page by rewriting the URL Express routes. */
function adminRewrite(request: IncomingMessage, _response: unknown, next: () => void) {
  if (request.headers['x-admin'] === 'yes' && request.url === '/rewritten') request.url = '/rewritten/admin';
  next();
}

describe('a middleware that rewrites the URL, on express', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
  });

  it('keys pages by the URL Express routes, so the handler it picks is the one that made the page', async () => {
    let url: string;
    ({ app, url } = await startApp('express', RewrittenModule, (nest) => nest.use(adminRewrite)));
    const open = await request(url).get('/rewritten').expect(200);
    expect([open.headers['x-cache'], open.body.who]).toEqual(['MISS', 'anyone']);
    expect((await request(url).get('/rewritten').expect(200)).headers['x-cache']).toBe('HIT');
    await request(url).get('/rewritten').set('X-Admin', 'yes').expect(403);
    const admin = await request(url).get('/rewritten').set('X-Admin', 'yes').set('X-Allow', 'yes').expect(200);
    expect(admin.body.who).toBe('admin');
    expect((await request(url).get('/rewritten').expect(200)).text).toBe(open.text);
  });
});

/** A Fastify constraint strategy: routes by the `X-Tenant` header, falling back to unconstrained routes. */
const tenantConstraint = {
  name: 'tenant',
  storage() {
    const handlers = new Map<string, unknown>();
    return {
      get: (tenant: string) => (handlers.get(tenant) ?? null) as never,
      set: (tenant: string, store: unknown) => void handlers.set(tenant, store),
    };
  },
  deriveConstraint: (request: IncomingMessage) => request.headers['x-tenant'],
  validate: (tenant: unknown) => {
    if (typeof tenant !== 'string') throw new TypeError('a tenant is a string');
  },
};

describe('Fastify route constraints', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
  });

  it('a constrained, guarded route is not skipped by a page learned on the open one', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ConstrainedModule] }).compile();
    const fastifyApp = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    // Added to the instance: NestJS 11's adapter passes Fastify no constraints but its version one.
    fastifyApp.getHttpAdapter().getInstance().addConstraintStrategy(tenantConstraint);
    app = fastifyApp;
    await app.listen(0, '127.0.0.1');
    const url = await app.getUrl();
    const open = await request(url).get('/constrained').expect(200);
    expect([open.headers['x-cache'], open.body.who]).toEqual(['MISS', 'anyone']);
    expect((await request(url).get('/constrained').expect(200)).headers['x-cache']).toBe('HIT');
    await request(url).get('/constrained').set('X-Tenant', 'locked').expect(403);
    const locked = await request(url).get('/constrained').set('X-Tenant', 'locked').set('X-Allow', 'yes').expect(200);
    expect(locked.body.who).toBe('the locked tenant');
    const lockedAgain = await request(url).get('/constrained').set('X-Tenant', 'locked').set('X-Allow', 'yes');
    expect([lockedAgain.headers['x-cache'], lockedAgain.text]).toEqual(['HIT', locked.text]);
  });
});

@Controller({ path: 'tenant', host: ':tenant.example.com' })
class TenantController {
  @Get()
  @CachePage(60)
  page(@HostParam('tenant') tenant: string) {
    return { tenant, run: ++handled };
  }
}

@Controller('by-host')
class ByHostController {
  @Get()
  @CachePage(60)
  page(@Req() request: { hostname: string }) {
    return { hostname: request.hostname, run: ++handled };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `tenants-${Math.random()}` } })],
  controllers: [TenantController, ByHostController],
})
class TenantModule {}

// Behind a trusted proxy the framework reads the host from X-Forwarded-Host, while Host names the
// proxy's upstream, the same for every tenant: pages must be kept by the host the app answers for.
describe.each(ADAPTERS)('behind a trusted proxy, on %s', (adapter) => {
  let app: INestApplication | undefined;
  let url: string;
  afterEach(async () => {
    await app?.close();
  });

  const boot = async () =>
    ({ app, url } = await startApp(
      adapter,
      TenantModule,
      (nest) => adapter === 'express' && (nest as NestExpressApplication).set('trust proxy', true),
      { trustProxy: true },
    ));

  it("never serves one forwarded host's page to another", async () => {
    await boot();
    const get = (host: string) => request(url).get('/by-host').set('Host', 'upstream').set('X-Forwarded-Host', host);
    expect((await get('a.example.com').expect(200)).body.hostname).toBe('a.example.com');
    const b = await get('b.example.com').expect(200);
    expect([b.headers['x-cache'], b.body.hostname]).toEqual(['MISS', 'b.example.com']);
    const again = await get('a.example.com').expect(200);
    expect([again.headers['x-cache'], again.body.hostname]).toEqual(['HIT', 'a.example.com']);
  });

  it('keeps pages apart by the Host header too when it differs from the forwarded one', async () => {
    await boot();
    const get = (upstream: string) =>
      request(url).get('/by-host').set('Host', upstream).set('X-Forwarded-Host', 'a.example.com');
    await get('one.internal').expect(200);
    expect((await get('two.internal').expect(200)).headers['x-cache']).toBe('MISS');
    expect((await get('one.internal').expect(200)).headers['x-cache']).toBe('HIT');
    // A malformed Host is no key, forwarded or not.
    expect((await get('bad host').expect(200)).headers['x-cache']).toBe('BYPASS');
  });

  if (adapter === 'express') {
    it('gives each tenant of a host-bound controller its own page (@HostParam from X-Forwarded-Host)', async () => {
      await boot();
      const get = (host: string) => request(url).get('/tenant').set('Host', 'upstream').set('X-Forwarded-Host', host);
      expect((await get('acme.example.com').expect(200)).body.tenant).toBe('acme');
      const globex = await get('globex.example.com').expect(200);
      expect([globex.headers['x-cache'], globex.body.tenant]).toEqual(['MISS', 'globex']);
      expect((await get('acme.example.com').expect(200)).body.tenant).toBe('acme');
    });
  }
});
