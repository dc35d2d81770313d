import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cache, CacheModule, InjectCache } from '../lib/index.js';

@Injectable()
class Svc { constructor(readonly cache: Cache, @InjectCache('other') readonly other: Cache) {} }

describe('smoke', () => {
  it('boots', async () => {
    const mod = await Test.createTestingModule({ imports: [CacheModule.forRoot({ default: { backend: 'locmem' }, other: 'dummy://' })], providers: [Svc] }).compile();
    const svc = mod.get(Svc);
    await svc.cache.set('k', 1);
    expect(await svc.cache.get('k')).toBe(1);
    expect(svc.other.alias).toBe('other');
    await mod.close();
  });
});
