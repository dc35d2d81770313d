import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheModule, CachePage, type CacheModuleOptions } from '../../lib/index.js';
import { hostIsAllowed } from '../../lib/http/allowed-hosts.js';
import { ADAPTERS, startApp } from './app/http-app.js';
import { Runs } from './app/pages.controller.js';

@Controller('hosted')
class HostedController {
  constructor(private readonly runs: Runs) {}

  @Get()
  @CachePage(60)
  page() {
    return { run: this.runs.count('hosted') };
  }
}

function hostedModule(options: CacheModuleOptions) {
  @Module({
    imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `hosts-${Math.random()}` } }, options)],
    controllers: [HostedController],
    providers: [Runs],
  })
  class HostedModule {}
  return HostedModule;
}

describe('hostIsAllowed', () => {
  it.each<[string | undefined, string[] | undefined, boolean]>([
    ['example.com', undefined, true],
    ['127.0.0.1:3000', undefined, true],
    ['[::1]:8080', undefined, true],
    ['example.com.', undefined, true],
    [undefined, undefined, false],
    ['', undefined, false],
    ['evil.test/../x', undefined, false],
    ['user@example.com', undefined, false],
    ['a b', undefined, false],
    ['x'.repeat(300), undefined, false],
    ['www.example.com', ['.example.com'], true],
    ['example.com:8080', ['.example.com'], true],
    ['EXAMPLE.com', ['example.com'], true],
    ['badexample.com', ['.example.com'], false],
    ['example.com.evil.test', ['example.com'], false],
    ['anything.test', ['*'], true],
    ['[::1]:8080', ['[::1]'], true],
  ])('%p with %j: %p', (host, allowed, expected) => {
    expect(hostIsAllowed(host, allowed)).toBe(expected);
  });
});

describe.each(ADAPTERS)('page keys and the Host header, on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let runs: Runs;
  const get = (host: string) => request(url).get('/hosted').set('Host', host);

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, hostedModule({ allowedHosts: ['.example.com'] })));
    runs = app.get(Runs);
  });

  afterAll(() => app?.close());

  it('caches pages of allowed hosts, each under its own host', async () => {
    expect((await get('www.example.com').expect(200)).headers['x-cache']).toBe('MISS');
    expect((await get('www.example.com').expect(200)).headers['x-cache']).toBe('HIT');
    expect((await get('shop.example.com').expect(200)).headers['x-cache']).toBe('MISS');
  });

  it('answers other hosts without caching anything for them', async () => {
    const before = runs.of('hosted');
    for (const host of ['evil.test', 'evil.test', 'www.example.com.evil.test']) {
      expect((await get(host).expect(200)).headers['x-cache']).toBe('BYPASS');
    }
    expect(runs.of('hosted')).toBe(before + 3);
  });
});
