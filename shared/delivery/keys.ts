/**
 * Identifiers on the wire. Any schema-valid identifier (accents, emoji, blanks, control characters,
 * even a lone UTF-16 surrogate from a `\ud800` JSON escape) must travel as an `Idempotency-Key`
 * header and as an SQS FIFO `MessageGroupId`, and neither accepts arbitrary text:
 *
 * - {@link encodeHeaderKey}: visible ASCII except `%` is kept as it is, so every visible-ASCII
 *   business key without `%` reaches the receiver unchanged; every other character (blank and `%` too) is
 *   percent-encoded as its UTF-8 bytes (`%XX`, uppercase hex). Lone surrogates, which UTF-8 cannot
 *   carry, are encoded as their three WTF-8 bytes (`\ud800` → `%ED%A0%80`), so the encoding never
 *   throws and stays injective: `%` itself is always escaped, every escape is exactly three
 *   characters, and WTF-8 gives every UTF-16 code-unit sequence its own bytes. Distinct keys never
 *   share a header; {@link decodeHeaderKey} inverts it.
 * - {@link messageGroupIdFor}: the id itself when SQS takes it (1–128 ASCII alphanumerics and
 *   punctuation), else `h-` and the SHA-256 of its UTF-8 bytes in hex. Same id, same group, always.
 *   Two ids that share a group (a hashed id and a literal `h-…` id, or two ids differing only in
 *   lone surrogates, which UTF-8 turns into U+FFFD) only lose parallelism, never order.
 */
import { createHash } from 'node:crypto';

/** What {@link encodeHeaderKey} returns: empty, or visible ASCII only (no blank, no control). */
export const HEADER_KEY_PATTERN = /^[\x21-\x7e]*$/;

/** Visible ASCII except `%`: the characters {@link encodeHeaderKey} keeps. */
const KEPT = /^[\x21-\x24\x26-\x7e]*$/;

/** What SQS accepts as a `MessageGroupId`: alphanumerics and punctuation, 1 to 128 characters. */
export const MESSAGE_GROUP_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

const hex = (byte: number): string => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;

/** The (WTF-8) bytes of one code point, percent-encoded. */
function escapeCodePoint(cp: number): string {
  if (cp < 0x80) return hex(cp);
  if (cp < 0x800) return hex(0xc0 | (cp >> 6)) + hex(0x80 | (cp & 0x3f));
  if (cp < 0x10000) {
    return hex(0xe0 | (cp >> 12)) + hex(0x80 | ((cp >> 6) & 0x3f)) + hex(0x80 | (cp & 0x3f));
  }
  return (
    hex(0xf0 | (cp >> 18)) +
    hex(0x80 | ((cp >> 12) & 0x3f)) +
    hex(0x80 | ((cp >> 6) & 0x3f)) +
    hex(0x80 | (cp & 0x3f))
  );
}

/** An injective encoding of any string into header-safe visible ASCII; ASCII keys without `%` pass unchanged. */
export function encodeHeaderKey(key: string): string {
  if (KEPT.test(key)) return key;
  let out = '';
  // for…of walks code points, yielding a lone surrogate as itself.
  for (const char of key) {
    const cp = char.codePointAt(0) as number;
    out += cp !== 0x25 && cp >= 0x21 && cp <= 0x7e ? char : escapeCodePoint(cp);
  }
  return out;
}

/**
 * The inverse of {@link encodeHeaderKey}, for support reading a key a receiver logged.
 * @throws {SyntaxError} when `encoded` is not an output of {@link encodeHeaderKey}.
 */
export function decodeHeaderKey(encoded: string): string {
  if (KEPT.test(encoded)) return encoded;
  let out = '';
  let i = 0;
  const byteAt = (at: number): number => {
    const pair = encoded.slice(at + 1, at + 3);
    if (encoded[at] !== '%' || !/^[0-9A-F]{2}$/.test(pair)) {
      throw new SyntaxError(`Not an encoded header key: bad escape at ${at}`);
    }
    return Number.parseInt(pair, 16);
  };
  while (i < encoded.length) {
    const char = encoded[i] as string;
    if (char !== '%') {
      if (!KEPT.test(char)) throw new SyntaxError(`Not an encoded header key: raw character at ${i}`);
      out += char;
      i += 1;
      continue;
    }
    const lead = byteAt(i);
    const length = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
    if (length === 0 || lead > 0xf4)
      throw new SyntaxError(`Not an encoded header key: bad lead byte at ${i}`);
    let cp = length === 1 ? lead : lead & (0x7f >> length);
    for (let k = 1; k < length; k += 1) {
      const next = byteAt(i + 3 * k);
      if ((next & 0xc0) !== 0x80)
        throw new SyntaxError(`Not an encoded header key: bad continuation at ${i}`);
      cp = (cp << 6) | (next & 0x3f);
    }
    const minimum = [0, 0, 0x80, 0x800, 0x10000][length] as number;
    if (cp < minimum || cp > 0x10ffff || (length === 1 && cp !== 0x25 && cp >= 0x21 && cp <= 0x7e)) {
      throw new SyntaxError(`Not an encoded header key: non-canonical escape at ${i}`);
    }
    out += String.fromCodePoint(cp);
    i += 3 * length;
  }
  // Two lone surrogates that decode into a pair were never produced by the encoder (it would have
  // written the pair as four bytes): re-encoding tells.
  if (encodeHeaderKey(out) !== encoded) throw new SyntaxError('Not an encoded header key: non-canonical');
  return out;
}

/** A valid, stable SQS FIFO `MessageGroupId` for any id: the id itself when SQS takes it, else `h-<sha256 hex>`. */
export function messageGroupIdFor(id: string): string {
  if (MESSAGE_GROUP_ID_PATTERN.test(id)) return id;
  return `h-${createHash('sha256').update(id, 'utf8').digest('hex')}`;
}
