/**
 * The size DynamoDB counts for an item, against its 400 KB limit: attribute names and values in UTF-8,
 * numbers by significant digits, and a few bytes of overhead per list, map and element. An upper bound
 * of the documented rules ("Item sizes and formats"), for tests and guards, not for billing.
 */

/** DynamoDB's item size limit, in bytes. */
export const MAX_ITEM_BYTES = 400 * 1024;

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');

function numberSize(value: number | bigint): number {
  const digits = String(value)
    .replace(/^-/, '')
    .replace(/e.*$/i, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** Bytes of one attribute value. */
export function valueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return utf8(value);
  if (typeof value === 'number' || typeof value === 'bigint') return numberSize(value);
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return [...value].reduce((n: number, v) => n + valueSize(v), 0);
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + valueSize(v) + 1, 3);
  if (value instanceof Map) return itemSize(Object.fromEntries(value)) + 3;
  if (typeof value === 'object') return itemSize(value as Record<string, unknown>) + 3;
  return utf8(String(value));
}

/** Bytes of an item (or of a map's entries): each name plus its value, one byte per entry. */
export function itemSize(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    size += utf8(name) + valueSize(value) + 1;
  }
  return size;
}
