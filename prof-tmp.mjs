import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import KeyvRedis from '@keyv/redis';
import { Caches, CacheModule } from './dist/index.js';
class M {}
Module({ imports: [CacheModule.forRoot({ default: { backend: 'keyv', timeout: null, options: { store: new KeyvRedis('redis://127.0.0.1:16391/10', { namespace: 'p', throwOnErrors: true }) } } })] })(M);
const app = await NestFactory.createApplicationContext(M, { logger: false });
const cache = app.get(Caches).default;
const keys = Array.from({ length: 100 }, (_, i) => `item:${i}`);
const values = keys.map((_, i) => ({ id: i, name: `Item ${i}`, email: `item${i}@example.com`, active: i % 2 === 0 }));
const op = process.argv[2];
const t = performance.now();
for (let r = 0; r < 3000; r++) {
  if (op === 'set') await Promise.all(keys.map((k, i) => cache.set(k, values[i])));
  else await Promise.all(keys.map((k) => cache.get(k)));
}
console.log(op, ((performance.now() - t) * 1e6 / 300000).toFixed(0), 'ns/op');
await app.close();
