import 'reflect-metadata';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { createServer, type Server, type Socket } from 'node:net';
import request from 'supertest';
import { CacheHealthIndicator, CacheModule } from '../../lib/index.js';
import { freePort, redisDb } from '../support/addresses.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cacheHealth: CacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.cacheHealth.isHealthy('default'),
      () => this.cacheHealth.isHealthy('redis'),
      () => this.cacheHealth.isHealthy('down', { key: 'sessions', timeoutMs: 300 }),
    ]);
  }
}

let moduleRef: TestingModule | undefined;
let silent: Server | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
  silent = undefined;
});

async function boot(downLocation: string) {
  moduleRef = await Test.createTestingModule({
    imports: [
      TerminusModule.forRoot({ logger: false }),
      CacheModule.forRoot({
        default: { backend: 'locmem', location: 'health' },
        redis: { backend: 'redis', location: redisDb(7), keyPrefix: 'obs-health' },
        // ignoreErrors hides failures from callers, not from the health check.
        down: { backend: 'redis', location: downLocation, ignoreErrors: true, commandTimeoutMs: 200 },
        nothing: { backend: 'dummy' },
      }),
    ],
    controllers: [HealthController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return { app, indicator: moduleRef.get(CacheHealthIndicator) };
}

describe('CacheHealthIndicator', () => {
  it('reports up after a real round trip, and down with the error where nothing listens', async () => {
    const { indicator } = await boot(`redis://127.0.0.1:${await freePort()}`);
    expect(await indicator.isHealthy('default')).toEqual({
      'cache:default': { status: 'up', alias: 'default', readBack: true, responseTimeMs: expect.any(Number) },
    });
    expect(await indicator.isHealthy('redis', { key: 'redis' })).toMatchObject({
      redis: { status: 'up', alias: 'redis', readBack: true },
    });
    // dummy answers every command and keeps nothing: reachable, and it says so.
    expect(await indicator.isHealthy('nothing')).toMatchObject({ 'cache:nothing': { status: 'up', readBack: false } });
    const down = await indicator.isHealthy('down');
    expect(down['cache:down']).toMatchObject({ status: 'down', alias: 'down' });
    expect(String(down['cache:down']!.message)).toMatch(
      /ECONNREFUSED|Connection is closed|writeable|timed out|unavailable/i,
    );
    await expect(indicator.isHealthy('nope')).rejects.toThrow("No cache alias 'nope'; configured: default, redis");
  });

  it('reports down within its timeout when the server accepts connections but never answers', async () => {
    const port = await freePort();
    silent = createServer((socket) => sockets.push(socket)); // accepts, answers nothing
    await new Promise<void>((resolve) => silent!.listen(port, '127.0.0.1', resolve));
    const { app } = await boot(`redis://127.0.0.1:${port}`);
    const started = Date.now();
    const response = await request(app.getHttpServer()).get('/health');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(response.status).toBe(503);
    expect(response.body.status).toBe('error');
    expect(response.body.info).toMatchObject({
      'cache:default': { status: 'up' },
      'cache:redis': { status: 'up' },
    });
    expect(response.body.error.sessions).toMatchObject({ status: 'down', alias: 'down' });
  });
});
