import { describe, expect, it } from '@jest/globals';
import { CacheValueError, makeTemplateFragmentKey } from '../../lib/index.js';

// Django's own key vectors (tests/cache/tests.py, TestMakeTemplateFragmentKey): the same
// fragment has the same key in both frameworks, so either can invalidate the other's.
describe('makeTemplateFragmentKey', () => {
  it.each<[string, unknown[] | undefined, string]>([
    ['a.fragment', undefined, 'template.cache.a.fragment.d41d8cd98f00b204e9800998ecf8427e'],
    ['foo', ['abc'], 'template.cache.foo.493e283d571a73056196f1a68efd0f66'],
    ['bar', ['abc', 'def'], 'template.cache.bar.17c1a507a0cb58384f4c639067a93520'],
    ['spam', ['abc:def%'], 'template.cache.spam.06c8ae8e8c430b69fb0a6443504153dc'],
    ['foo', [1, 2, 3, 4, 5], 'template.cache.foo.7ae8fd2e0d25d651c683bdeebdb29461'],
    ['foo', ['42º', '😀'], 'template.cache.foo.7ced1c94e543668590ba39b3c08b0237'],
    ['foo', ['x'.repeat(10_000)], 'template.cache.foo.3670b349b5124aa56bdb50678b02b23a'],
  ])('%s %j', (name, varyOn, key) => {
    expect(makeTemplateFragmentKey(name, varyOn)).toBe(key);
  });

  it('gives strings and integers the text Django gives them, and content to what String() would blur', () => {
    expect(makeTemplateFragmentKey('f', [7])).toBe(makeTemplateFragmentKey('f', ['7']));
    expect(makeTemplateFragmentKey('f', [{ id: 1 }])).not.toBe(makeTemplateFragmentKey('f', [{ id: 2 }]));
    expect(makeTemplateFragmentKey('f', [{ a: 1, b: 2 }])).toBe(makeTemplateFragmentKey('f', [{ b: 2, a: 1 }]));
    expect(makeTemplateFragmentKey('f', [new Set([1])])).not.toBe(makeTemplateFragmentKey('f', [new Set([2])]));
    expect(makeTemplateFragmentKey('f', [new Uint8Array([1, 2])])).not.toBe(
      makeTemplateFragmentKey('f', [new Uint8Array([12])]),
    );
    // A value with its own text form keeps it, as str() does in Django.
    const date = new Date(0);
    expect(makeTemplateFragmentKey('f', [date])).toBe(makeTemplateFragmentKey('f', [String(date)]));
  });

  it('rejects a class instance whose state is out of sight, since every one would share a key', () => {
    class Session {
      #user: number;
      constructor(user: number) {
        this.#user = user;
      }
      get user() {
        return this.#user;
      }
    }
    expect(() => makeTemplateFragmentKey('f', [new Session(1)])).toThrow(/#1 .* shows no content to key on/);
    expect(makeTemplateFragmentKey('f', [{}])).toBe(makeTemplateFragmentKey('f', [{}])); // a plain {} is content
  });

  it('rejects a value that holds a function or a cycle, naming its position', () => {
    expect(() => makeTemplateFragmentKey('f', ['a', { run: () => 1 }])).toThrow(/Vary-on value #2/);
    expect(() => makeTemplateFragmentKey('f', ['a', { run: () => 1 }])).toThrow(CacheValueError);
  });

  it('treats no values and an empty list alike', () => {
    expect(makeTemplateFragmentKey('a', [])).toBe(makeTemplateFragmentKey('a'));
  });
});
