import { describe, expect, it } from '@jest/globals';
import { itemSize, MAX_ITEM_BYTES, valueSize } from '#shared/consolidation/size.ts';

describe('itemSize', () => {
  it('counts names and values in UTF-8, numbers by significant digits', () => {
    expect(valueSize('abc')).toBe(3);
    expect(valueSize('é')).toBe(2);
    expect(valueSize('😀')).toBe(4);
    expect(valueSize(12345)).toBe(4);
    expect(valueSize(100)).toBe(2);
    expect(valueSize(true)).toBe(1);
    expect(itemSize({ pk: 'ab', n: 1 })).toBe(2 + 2 + 1 + (1 + 2 + 1));
  });

  it('adds overhead for lists and maps, and skips undefined attributes', () => {
    expect(valueSize(['a', 'b'])).toBe(3 + 2 + 2);
    expect(valueSize({ a: 'x' })).toBe(3 + 1 + 1 + 1);
    expect(itemSize({ a: undefined, b: 'x' })).toBe(3);
  });

  it('is at least the JSON text of a string-heavy item, and names the 400 KB limit', () => {
    const item = { pk: 'SYNC#X', list: Array.from({ length: 100 }, (_, i) => ({ message: 'é'.repeat(i) })) };
    expect(itemSize(item)).toBeGreaterThan(Buffer.byteLength(JSON.stringify(item)) * 0.8);
    expect(MAX_ITEM_BYTES).toBe(409_600);
  });
});
