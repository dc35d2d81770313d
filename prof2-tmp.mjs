import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { serialize } from 'node:v8';
import { Caches, CacheModule } from './dist/index.js';
import { KeyvBackend } from './dist/backends/keyv.backend.js';
const url = 'redis://127.0.0.1:16391/10';
class M {}
Module({ imports: [CacheModule.forRoot({ default: { backend: 'keyv', timeout: null, options: { store: new KeyvRedis(url, { namespace: 'p', throwOnErrors: true }) } } })] })(M);
const app = await NestFactory.createApplicationContext(M, { logger: false });
const cache = app.get(Caches).default;
const raw = new Keyv({ store: new KeyvRedis(url, { namespace: 'r' }), useKeyPrefix: false });
const own = new Keyv({ store: new KeyvRedis(url, { namespace: 'o' }), throwOnErrors: true, emitErrors: false, serialize: JSON.stringify, deserialize: JSON.parse });
const backend = new KeyvBackend(new Keyv({ store: new KeyvRedis(url, { namespace: 'b' }), throwOnErrors: true, emitErrors: false, serialize: JSON.stringify, deserialize: JSON.parse }));
const keys = Array.from({ length: 100 }, (_, i) => `item:${i}`);
const values = keys.map((_, i) => ({ id: i, name: `Item ${i}`, email: `item${i}@example.com`, active: i % 2 === 0 }));
const b64 = values.map((v) => serialize(v).toString('base64'));
const ways = {
  'raw keyv set obj': () => Promise.all(keys.map((k, i) => raw.set(k, values[i]))),
  'raw keyv set b64': () => Promise.all(keys.map((k, i) => raw.set(k, b64[i]))),
  'own keyv set b64': () => Promise.all(keys.map((k, i) => own.set(k, b64[i]))),
  'backend set': () => Promise.all(keys.map((k, i) => backend.set(k, values[i], null))),
  'cache set': () => Promise.all(keys.map((k, i) => cache.set(k, values[i]))),
  'raw keyv get': () => Promise.all(keys.map((k) => raw.get(k))),
  'backend get': () => Promise.all(keys.map((k) => backend.get(k))),
  'cache get': () => Promise.all(keys.map((k) => cache.get(k))),
};
for (let round = 0; round < 3; round++) for (const [name, fn] of Object.entries(ways)) {
  for (let r = 0; r < 50; r++) await fn();
  const t = performance.now();
  for (let r = 0; r < 300; r++) await fn();
  if (round === 2) console.log(name.padEnd(20), ((performance.now() - t) * 1e6 / 30000).toFixed(0), 'ns/op');
}
await raw.disconnect(); await own.disconnect(); await backend.close(); await app.close();
