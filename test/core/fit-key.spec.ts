import { describe, expect, it } from '@jest/globals';
import { fitKey } from '../../lib/core/keys.js';

describe('fitKey: a key part that fits its budget on every backend', () => {
  it('keeps text within the budget and hashes longer text, the same way every call', () => {
    expect(fitKey('recipe:7', 80)).toBe('recipe:7');
    expect(fitKey('x'.repeat(80), 80)).toBe('x'.repeat(80));
    const hashed = fitKey('x'.repeat(81), 80);
    expect(hashed).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
    expect(fitKey('x'.repeat(81), 80)).toBe(hashed);
    expect(fitKey('x'.repeat(82), 80)).not.toBe(hashed);
  });

  it('counts bytes of UTF-8, as memcached does, not characters', () => {
    expect(fitKey('é'.repeat(40), 80)).toBe('é'.repeat(40)); // 80 bytes
    expect(fitKey('é'.repeat(41), 80)).toMatch(/^sha256:/); // 82 bytes in 41 characters
  });

  it('hashes text with a space or control character, however short', () => {
    expect(fitKey('a b', 80)).toMatch(/^sha256:/);
    expect(fitKey('a\nb', 80)).toMatch(/^sha256:/);
    expect(fitKey('a\u007fb', 80)).toMatch(/^sha256:/);
  });
});
