import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { keyvApiTests, keyvNamespaceTest, keyvValueTests } from '@keyv/test-suite';
import { Test, type TestingModule } from '@nestjs/testing';
import { Keyv } from 'keyv';
import { CacheModule, Caches, toKeyvStore } from '../../lib/index.js';
import { redisDb } from '../support/addresses.js';

// Keyv's suite is written for Vitest, whose test functions receive a context holding `expect`;
// Jest would take a one-argument function for a `done` callback, so each test is wrapped.
const vitestLike = {
  it: (name: string, test: (context: { expect: typeof expect }) => unknown) => it(name, async () => test({ expect })),
  beforeEach,
  afterEach,
  expect,
} as never;

let moduleRef: TestingModule;
let caches: Caches;

beforeAll(async () => {
  moduleRef = await Test.createTestingModule({
    imports: [
      CacheModule.forRoot({
        default: { backend: 'locmem', location: 'keyv-test-suite', options: { maxEntries: 10_000 } },
        // Database 10 of the test server belongs to this file.
        redis: { backend: 'redis', location: redisDb(10) },
      }),
    ],
  }).compile();
  caches = moduleRef.get(Caches);
});

afterAll(async () => {
  await Promise.all(caches.all().map((cache) => cache.clear()));
  await moduleRef.close();
});

describe.each(['default', 'redis'])('toKeyvStore over %s: the official @keyv/test-suite', (alias) => {
  const store = () => toKeyvStore(caches.get(alias));
  describe('API', () => keyvApiTests(vitestLike, Keyv, store));
  describe('values', () => keyvValueTests(vitestLike, Keyv, store));
  describe('namespaces', () => keyvNamespaceTest(vitestLike, Keyv, store));
});
