import fc from 'fast-check';
import { HttpError, ValidationError } from '#shared/errors.ts';
import {
  authorize,
  clip,
  MAX_LISTED_VIOLATIONS,
  PROBLEM_CONTENT_TYPE,
  parseJsonBody,
  problemResponse,
} from '#shared/handlers/http.ts';
import { canonicalJson } from '#shared/handlers/ingest.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { apiEvent } from '#test/helpers/events.ts';

const status = (fn: () => unknown): number | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as HttpError).statusCode;
  }
};

describe('parseJsonBody', () => {
  it('parses a JSON body', () => {
    expect(parseJsonBody(apiEvent({ path: '/x', body: { a: 1 } }), 100)).toEqual({ a: 1 });
  });
  it('accepts a charset parameter and a +json media type', () => {
    expect(
      parseJsonBody(apiEvent({ path: '/x', body: [1], contentType: 'application/json; charset=utf-8' }), 100),
    ).toEqual([1]);
    expect(
      parseJsonBody(apiEvent({ path: '/x', body: [1], contentType: 'application/vnd.dacs+json' }), 100),
    ).toEqual([1]);
  });
  it('refuses a non-JSON content type with 415, before looking at the size', () => {
    expect(
      status(() =>
        parseJsonBody(apiEvent({ path: '/x', rawBody: 'x'.repeat(500), contentType: 'text/plain' }), 100),
      ),
    ).toBe(415);
    expect(status(() => parseJsonBody(apiEvent({ path: '/x', rawBody: '{}', contentType: null }), 100))).toBe(
      415,
    );
  });
  it('refuses a body over the limit with 413, counting bytes not characters', () => {
    expect(status(() => parseJsonBody(apiEvent({ path: '/x', rawBody: `"${'é'.repeat(60)}"` }), 100))).toBe(
      413,
    );
  });
  it('refuses malformed and empty JSON with 400', () => {
    expect(status(() => parseJsonBody(apiEvent({ path: '/x', rawBody: '{"a":' }), 100))).toBe(400);
    expect(status(() => parseJsonBody(apiEvent({ path: '/x', rawBody: '' }), 100))).toBe(400);
  });
  it('refuses a base64 body that is not UTF-8 with 400, rather than reading replacement characters', () => {
    for (const bytes of [
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), // {"a":"<0xff>"}
      Buffer.from('{"a":"x"}', 'utf16le'),
      Buffer.from([0x22, 0xc0, 0xaf, 0x22]), // an overlong '/'
    ]) {
      const event = { ...apiEvent({ path: '/x' }), body: bytes.toString('base64'), isBase64Encoded: true };
      expect(status(() => parseJsonBody(event, 100))).toBe(400);
    }
  });
  it('decodes a base64 body', () => {
    const event = {
      ...apiEvent({ path: '/x' }),
      body: Buffer.from('{"b":2}').toString('base64'),
      isBase64Encoded: true,
    };
    expect(parseJsonBody(event, 100)).toEqual({ b: 2 });
  });
});

describe('authorize', () => {
  it('returns the caller when the token carries the scope', () => {
    expect(
      authorize(
        apiEvent({ path: '/x', scope: 'integration/dacs', clientId: 'dacs-local' }),
        'integration/dacs',
      ),
    ).toEqual({
      clientId: 'dacs-local',
      scopes: ['integration/dacs'],
    });
  });
  it('reads the flat context of the Lambda authorizer', () => {
    const flat = (authorizer: Record<string, unknown>) => {
      const event = apiEvent({ path: '/x', scope: null });
      return { ...event, requestContext: { ...event.requestContext, authorizer } };
    };
    const context = {
      principalId: 'derms-client',
      scope: 'integration/derms',
      client_id: 'derms-client',
      sub: 'derms-client',
    };
    expect(authorize(flat(context), 'integration/derms')).toEqual({
      clientId: 'derms-client',
      scopes: ['integration/derms'],
    });
    expect(status(() => authorize(flat(context), 'integration/dacs'))).toBe(403);
    expect(status(() => authorize(flat({ principalId: 'x' }), 'integration/derms'))).toBe(401);
  });
  it('answers 401 without authorizer claims', () => {
    expect(status(() => authorize(apiEvent({ path: '/x', scope: null }), 'integration/dacs'))).toBe(401);
  });
  it('answers 403 when the scope is another caller’s', () => {
    expect(
      status(() => authorize(apiEvent({ path: '/x', scope: 'integration/derms' }), 'integration/dacs')),
    ).toBe(403);
  });
});

describe('problemResponse', () => {
  it('renders RFC 9457 problem+json with every violation', () => {
    const violations = [
      { path: '/a', message: 'must be string' },
      { path: '/b', message: 'is required' },
    ];
    const response = problemResponse(new ValidationError(violations), 'req-1');
    expect(response.statusCode).toBe(422);
    expect(response.headers?.['Content-Type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(JSON.parse(response.body)).toEqual({
      type: expect.stringContaining('validation-failed'),
      title: 'Unprocessable message',
      status: 422,
      detail: expect.any(String),
      errors: violations,
      instance: 'urn:request:req-1',
    });
  });
  it('lists at most 100 violations and says in the detail how many were left out', () => {
    const violations = Array.from({ length: 5000 }, (_, i) => ({
      path: `/k${i}`,
      message: `unknown property 'k${i}' is not allowed`,
    }));
    const problem = JSON.parse(problemResponse(new ValidationError(violations)).body);
    expect(problem.errors).toEqual(violations.slice(0, MAX_LISTED_VIOLATIONS));
    expect(problem.detail).toBe(
      'The message breaks the contract; see errors for every violation. 4900 more violations are not listed (100 of 5000 shown).',
    );
  });

  it('lists every violation, with the detail unchanged, up to the cap', () => {
    const violations = Array.from({ length: MAX_LISTED_VIOLATIONS }, (_, i) => ({
      path: `/${i}`,
      message: 'x',
    }));
    const problem = JSON.parse(problemResponse(new ValidationError(violations)).body);
    expect(problem.errors).toHaveLength(MAX_LISTED_VIOLATIONS);
    expect(problem.detail).toBe('The message breaks the contract; see errors for every violation.');
  });

  it('cuts what echoes the input, so no problem body exceeds 64 KiB (property)', () => {
    const echo = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 2000 }),
      fc.string({ unit: fc.constantFrom('\u0000', '\ud800', '\u{1F4A5}', '"'), maxLength: 5000 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ path: echo, message: echo }), { maxLength: 300 }),
        echo,
        (violations, detail) => {
          const response = problemResponse(new ValidationError(violations, detail), 'req-1');
          expect(Buffer.byteLength(response.body)).toBeLessThanOrEqual(64 * 1024);
          const problem = JSON.parse(response.body);
          const listed = problem.errors.length;
          expect(listed).toBeLessThanOrEqual(MAX_LISTED_VIOLATIONS);
          if (listed < violations.length)
            expect(problem.detail).toContain(`${violations.length - listed} more violation`);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('names a content type it refuses without echoing all of it', () => {
    const event = apiEvent({ path: '/x', body: {}, contentType: `text/${'x'.repeat(100_000)}` });
    try {
      parseJsonBody(event, 100);
      throw new Error('not refused');
    } catch (error) {
      expect((error as HttpError).statusCode).toBe(415);
      expect((error as HttpError).message.length).toBeLessThan(300);
    }
  });

  it('carries extra headers such as Retry-After', () => {
    const response = problemResponse(
      new HttpError(PROBLEMS.unavailable, 'retry', { headers: { 'Retry-After': '5' } }),
    );
    expect(response.headers).toMatchObject({ 'Retry-After': '5' });
  });
});

describe('clip', () => {
  it('leaves a short text alone and cuts a long one with an ellipsis', () => {
    expect(clip('abc', 3)).toBe('abc');
    expect(clip('abcd', 3)).toBe('ab…');
  });

  it('never ends in half a surrogate pair', () => {
    expect(clip('a\u{1F4A5}bc', 3)).toBe('a…');
  });
});

describe('canonicalJson', () => {
  it('ignores key order so equal bodies hash equal', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
  });
  it('gives the same text for any key order of any JSON value (property)', () => {
    const shuffleKeys = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(shuffleKeys);
      if (value !== null && typeof value === 'object') {
        return Object.fromEntries(
          Object.entries(value)
            .reverse()
            .map(([k, v]) => [k, shuffleKeys(v)]),
        );
      }
      return value;
    };
    fc.assert(
      fc.property(fc.jsonValue(), (value) => canonicalJson(shuffleKeys(value)) === canonicalJson(value)),
    );
  });

  it('keeps array order significant', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });
});
