// Boots CacheModule in a process where test/package/hide-packages.mjs hides some optional peers,
// one line per configuration named on the command line (read by missing-peers.spec.ts).
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheHealthIndicator, CacheModule, type CachesOptions } from '../../lib/index.js';

// Nothing listens on port 1: each alias must fail on its missing peer before it connects.
const CONFIGURATIONS: Record<string, CachesOptions> = {
  memcached: { default: { backend: 'locmem' }, sessions: { backend: 'memcached', location: '127.0.0.1:1' } },
  redis: { default: { backend: 'locmem' }, shared: { backend: 'redis', location: 'redis://127.0.0.1:1' } },
  'tiered bus': {
    default: { backend: 'locmem' },
    local: { backend: 'locmem', location: 'local' },
    layered: { backend: 'tiered', tiers: ['default', 'local'], bus: 'redis://127.0.0.1:1' },
  },
  database: { default: { backend: 'locmem' }, rows: { backend: 'database', location: 'cache_table' } },
  health: { default: { backend: 'locmem' } },
  // A Map is a Keyv store too: the alias must still say that keyv itself is missing.
  keyv: { default: { backend: 'locmem' }, adapted: { backend: 'keyv', options: { store: new Map() } } },
};

async function boot(name: string): Promise<string> {
  @Module({ imports: [CacheModule.forRoot(CONFIGURATIONS[name]!)] })
  class AppModule {}
  try {
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    const health = await app.get(CacheHealthIndicator).isHealthy('default');
    await app.close();
    return `booted, default ${health['cache:default']!.status}`;
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

for (const name of process.argv.slice(2)) console.log(`${name}: ${await boot(name)}`);
