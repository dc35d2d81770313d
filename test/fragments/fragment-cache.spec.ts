import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { CacheModule, Caches, FragmentCache, makeTemplateFragmentKey } from '../../lib/index.js';

@Injectable()
class SidebarRenderer {
  renders = 0;

  constructor(readonly fragments: FragmentCache) {}

  async render(userId: number): Promise<string> {
    return this.fragments.render('sidebar', [userId], 60, async () => {
      this.renders++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return `<aside>${userId}</aside>`;
    });
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'fragment-cache-spec' } })],
  providers: [SidebarRenderer],
})
class SidebarModule {}

describe('FragmentCache', () => {
  let moduleRef: TestingModule;
  let renderer: SidebarRenderer;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({ imports: [SidebarModule] }).compile();
    await moduleRef.init();
    renderer = moduleRef.get(SidebarRenderer);
  });

  afterAll(() => moduleRef.close());

  it('is injectable, renders concurrent misses once, and keeps the fragment under Django’s key', async () => {
    const outputs = await Promise.all(Array.from({ length: 20 }, () => renderer.render(3)));
    expect(new Set(outputs)).toEqual(new Set(['<aside>3</aside>']));
    expect(renderer.renders).toBe(1);
    const cache = moduleRef.get(Caches).default;
    expect(await cache.get(makeTemplateFragmentKey('sidebar', [3]))).toBe('<aside>3</aside>');
    await cache.delete(makeTemplateFragmentKey('sidebar', [3]));
    await renderer.render(3);
    expect(renderer.renders).toBe(2);
  });
});
