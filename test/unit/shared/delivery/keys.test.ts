import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  decodeHeaderKey,
  encodeHeaderKey,
  HEADER_KEY_PATTERN,
  MESSAGE_GROUP_ID_PATTERN,
  messageGroupIdFor,
} from '#shared/delivery/keys.ts';

const char = (from: number, to: number) =>
  fc.integer({ min: from, max: to }).map((c) => String.fromCharCode(c));

/** One UTF-16 code unit or code point, weighted towards what an encoding could get wrong. */
const unit = fc.oneof(
  fc.constantFrom('%', '2', '5', 'A', 'E', 'D', 'F', '0', '8', ' '),
  char(0x21, 0x7e), // visible ASCII
  char(0x00, 0x20), // controls and the blank
  char(0x7f, 0x7ff), // DEL, Latin-1, two-byte UTF-8
  char(0xd800, 0xdfff), // surrogate halves: lone, or pairing up with a neighbour
  char(0xfffd, 0xffff),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), // any code point, non-BMP included
);
const anyString = fc.string({ unit, maxLength: 12 });
/** Visible ASCII without `%`: today's business keys. */
const asciiKey = fc.string({ unit: char(0x21, 0x7e).filter((c) => c !== '%'), minLength: 1, maxLength: 40 });

describe('encodeHeaderKey', () => {
  it.each([
    ['OPT-é1', 'OPT-%C3%A91'],
    ['OO-1 ', 'OO-1%20'],
    ['a b', 'a%20b'],
    ['100%', '100%25'],
    ['%C3%A9', '%25C3%25A9'],
    ['clé\r\nX-Evil: 1', 'cl%C3%A9%0D%0AX-Evil:%201'],
    ['\u{1F50C}', '%F0%9F%94%8C'],
    ['\ud800', '%ED%A0%80'],
    ['\udc00\ud800', '%ED%B0%80%ED%A0%80'],
    ['\ufeff\u007f', '%EF%BB%BF%7F'],
    ['', ''],
  ])('encodes %j as %j', (key, encoded) => {
    expect(encodeHeaderKey(key)).toBe(encoded);
    expect(decodeHeaderKey(encoded)).toBe(key);
  });

  it('keeps every visible-ASCII key without % byte for byte', () => {
    fc.assert(fc.property(asciiKey, (key) => encodeHeaderKey(key) === key));
  });

  it('always gives header-safe text, whatever the key, lone surrogates included', () => {
    fc.assert(fc.property(anyString, (key) => HEADER_KEY_PATTERN.test(encodeHeaderKey(key))));
  });

  it('is undone by decodeHeaderKey, so no two keys share an encoding', () => {
    fc.assert(fc.property(anyString, (key) => decodeHeaderKey(encodeHeaderKey(key)) === key));
  });

  it('gives distinct keys distinct encodings', () => {
    // A small alphabet of `%`, hex digits and surrogate halves makes near-collisions frequent.
    const near = fc.string({
      unit: fc.constantFrom('%', '2', '5', 'C', '3', 'A', '9', 'é', ' ', '\ud800', '\udc00', '\ufffd'),
      maxLength: 6,
    });
    fc.assert(
      fc.property(near, near, (a, b) => a === b || encodeHeaderKey(a) !== encodeHeaderKey(b)),
      { numRuns: 5000 },
    );
  });

  it('is what fetch sends unaltered as a header value', () => {
    fc.assert(
      fc.property(anyString, (key) => {
        const encoded = encodeHeaderKey(key);
        return new Headers({ 'Idempotency-Key': encoded }).get('idempotency-key') === encoded;
      }),
    );
  });
});

describe('decodeHeaderKey', () => {
  it.each([
    ['a raw %', '%'],
    ['a short escape', '%4'],
    ['lowercase hex', '%c3%a9'],
    ['a raw blank', 'a b'],
    ['a raw non-ASCII character', 'é'],
    ['an escaped character that is kept raw', '%41'],
    ['a stray continuation byte', '%A9'],
    ['a truncated sequence', '%C3'],
    ['an overlong sequence', '%C1%81'],
    ['a code point above U+10FFFF', '%F4%90%80%80'],
    ['a surrogate pair written as two lone halves', '%ED%A0%BD%ED%B4%8C'],
  ])('refuses %s', (_what, encoded) => {
    expect(() => decodeHeaderKey(encoded)).toThrow(SyntaxError);
  });
});

describe('messageGroupIdFor', () => {
  it.each([
    ['an ordinary id', 'SUB-1'],
    ['one character', 'D'],
    ['every punctuation mark', `!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`],
    ['128 characters', 'x'.repeat(128)],
  ])('keeps %s, which SQS takes', (_what, id) => {
    expect(messageGroupIdFor(id)).toBe(id);
  });

  it.each([
    ['a non-ASCII character', 'OPT-é1'],
    ['a trailing blank', 'SUB-1 '],
    ['an emoji', 'dev\u{1F50C}'],
    ['a control character', 'a\tb'],
    ['nothing', ''],
    ['129 characters', 'x'.repeat(129)],
  ])('hashes an id with %s into h- and the SHA-256 of its UTF-8', (_what, id) => {
    const group = messageGroupIdFor(id);
    expect(group).toBe(`h-${createHash('sha256').update(Buffer.from(id, 'utf8')).digest('hex')}`);
    expect(group).toMatch(MESSAGE_GROUP_ID_PATTERN);
  });

  it('maps an id to the same group in every release (in-flight order depends on it)', () => {
    expect(messageGroupIdFor('OPT-é1')).toBe(
      'h-d5cdffadcc043fb6dff1864994be17b2976a7acbed79e012fe12be7f95b755e1',
    );
  });

  it('always gives a group id SQS takes, the same one every time', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.string({ unit, maxLength: 200 })), (id) => {
        const group = messageGroupIdFor(id);
        return MESSAGE_GROUP_ID_PATTERN.test(group) && messageGroupIdFor(id) === group;
      }),
    );
  });
});
