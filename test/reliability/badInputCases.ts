/**
 * The bodies of the bad-input campaign (badInput.test.ts): messages generated from the JSON Schemas and
 * mutated (test/unit/shared/contracts/arbitraries.ts), plus what no schema describes: bodies that are not
 * JSON, wrong content types, bodies over the size limit, deep nesting, thousands of unknown properties and
 * other encodings. Each case knows the answer the contract gives it ({@link contractAnswer}), in the
 * contract's order: 415 (not JSON), 413 (over the limit), 400 (malformed), then 422 or 202.
 */
import fc from 'fast-check';
import { SCHEMAS } from '#shared/contracts/schemas.ts';
import { validateMessage } from '#shared/contracts/validate.ts';
import { FLOW_IDS, FLOWS, type FlowId } from '#shared/flows/registry.ts';
import {
  applicableLimits,
  defineOwn,
  type LimitSide,
  limitsOf,
  MUTATION_KINDS,
  type MutationKind,
  mutatedJson,
  mutatedMessage,
  type SchemaNode,
  sitesOf,
  VALID_MESSAGES,
  valueAt,
  valueAtLimit,
} from '#test/unit/shared/contracts/arbitraries.ts';

export const TRANSPORT_KINDS = [
  'non-json',
  'non-object',
  'content-type',
  'oversized',
  'deep-nesting',
  'many-unknown',
  'encoding',
] as const;
export type CaseKind = MutationKind | (typeof TRANSPORT_KINDS)[number];
export const CASE_KINDS: readonly CaseKind[] = [...MUTATION_KINDS, ...TRANSPORT_KINDS];

export interface BadCase {
  readonly kind: CaseKind;
  readonly flow: FlowId;
  /** The Content-Type header; null sends none. */
  readonly contentType: string | null;
  /** Whether the contract reads that content type as JSON. */
  readonly jsonContentType: boolean;
  /** The body as text, or as bytes that are not (or not only) UTF-8 text. */
  readonly body: string | Uint8Array;
  /** Only through the handler: a header no HTTP server takes, or an event only API Gateway builds. */
  readonly inProcessOnly?: boolean;
  /** Too heavy to be delivered by the stack when accepted (a list grown to 10,000): in process only. */
  readonly heavy?: boolean;
  /** The JSON Pointer where a mutation applied ('' the root). */
  readonly at?: string;
  /** What the case is about, for the failure report. */
  readonly note?: string;
}

/** The content types the contract reads as JSON, however written, and some it does not. */
export const JSON_CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'APPLICATION/JSON;CHARSET=UTF-8',
  ' application/json ',
  'application/json;',
  'application/json; charset="utf-8"; profile=x',
  'application/problem+json',
  'application/vnd.dacs+json',
  'application/merge-patch+json',
] as const;
export const NOT_JSON_CONTENT_TYPES = [
  null,
  'text/plain',
  'text/plain; charset=utf-8',
  'application/xml',
  'text/xml',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/javascript',
  'application/json5',
  'application/jsonx',
  'application/jsonl',
  'image/png',
  '*/*',
  '',
  ';',
  'json',
  'application',
  'application/',
  'application/json+xml',
  'json; application/json',
] as const;

const JSON_TYPE = 'application/json';

/** The flow's message type and the JSON text of a valid message of it. */
const validText = (flow: FlowId) => VALID_MESSAGES[FLOWS[flow].messageType].map((m) => JSON.stringify(m));

const jsonCase = (flow: FlowId, kind: CaseKind, body: string, at?: string, note?: string): BadCase => ({
  kind,
  flow,
  contentType: JSON_TYPE,
  jsonContentType: true,
  body,
  ...(at === undefined ? {} : { at }),
  ...(note === undefined ? {} : { note }),
});

/** Texts that are not JSON, or not the JSON they look like. */
const NOT_JSON_TEXTS = [
  '',
  ' ',
  '\n\t\r ',
  '{',
  '}',
  '{"a":}',
  "{'a':1}",
  '{a:1}',
  '{"a":1,}',
  '[1,]',
  '<?xml version="1.0"?><OptOut/>',
  'optOutId=1&channel=PHONE',
  'NaN',
  'Infinity',
  'undefined',
  '// a comment\n{}',
  '/* a comment */{}',
  '{"a":1}{"b":2}',
  '{"a":"\u0000"}',
  '{"a":"\n"}',
  '\ufeff{}',
  '{"a":01}',
  '{"a":.5}',
  '{"a":+1}',
  '{"a":0x10}',
  '{"a":1e}',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  'true false',
  '\\',
  '\u0000',
  '{"a":1',
  '["a"',
  '"unterminated',
] as const;

const nonJson = (flow: FlowId): fc.Arbitrary<BadCase> =>
  fc
    .oneof(
      fc.constantFrom(...NOT_JSON_TEXTS),
      // A valid message cut short anywhere, or with one character changed or added anywhere.
      validText(flow).chain((text) => fc.nat(text.length - 1).map((n) => text.slice(0, n))),
      validText(flow).chain((text) =>
        fc
          .tuple(
            fc.nat(text.length - 1),
            fc.constantFrom('{', '}', '"', ',', ':', '\\', '\u0000', ']', "'"),
            fc.boolean(),
          )
          .map(([n, char, replace]) => `${text.slice(0, n)}${char}${text.slice(replace ? n + 1 : n)}`),
      ),
      fc.string({ unit: 'binary', maxLength: 200 }),
    )
    .map((text) => jsonCase(flow, 'non-json', text));

/** JSON, but not an object: what the handler must not take for a message. */
const nonObject = (flow: FlowId): fc.Arbitrary<BadCase> =>
  fc
    .oneof(
      fc.constantFrom('[]', '[{}]', '"x"', '42', '-0', 'null', 'true', '"\\ud800"', '1e400'),
      validText(flow).map((text) => `[${text}]`),
      validText(flow).map((text) => JSON.stringify(text)),
      validText(flow).map((text) => `[${text},${text}]`),
    )
    .map((text) => jsonCase(flow, 'non-object', text));

/** Any body (valid or mutated) under a content type the contract does or does not read as JSON. */
const contentTypes = (flow: FlowId): fc.Arbitrary<BadCase> =>
  fc
    .tuple(
      fc.oneof(validText(flow), mutatedText(flow)),
      fc.oneof(
        fc.constantFrom(...NOT_JSON_CONTENT_TYPES).map((contentType) => ({ contentType, json: false })),
        fc.constantFrom(...JSON_CONTENT_TYPES).map((contentType) => ({ contentType, json: true })),
      ),
    )
    .map(([body, { contentType, json }]) => ({
      kind: 'content-type' as const,
      flow,
      contentType,
      jsonContentType: json,
      body,
    }));

const mutatedText = (flow: FlowId) =>
  fc
    .constantFrom(...MUTATION_KINDS.filter((k) => k !== 'valid'))
    .chain((kind) => mutatedMessage(FLOWS[flow].messageType, kind))
    .map(mutatedJson);

/** Nesting `depth` deep: arrays, objects, or either cut short. */
export function nested(depth: number, shape: 'array' | 'object' | 'open'): string {
  if (shape === 'array') return `${'['.repeat(depth)}${']'.repeat(depth)}`;
  if (shape === 'object') return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  return '['.repeat(depth);
}

const DEEP = '\u0001deep\u0001';

/** Deeply nested JSON: the whole body, an unknown property, or a known field of a valid message. */
const deepNesting = (flow: FlowId): fc.Arbitrary<BadCase> =>
  fc
    .tuple(
      fc.oneof(fc.integer({ min: 10, max: 2_000 }), fc.integer({ min: 2_000, max: 100_000 })),
      fc.constantFrom('array', 'object', 'open' as const),
      fc.constantFrom('root', 'unknown', 'known' as const),
      VALID_MESSAGES[FLOWS[flow].messageType],
    )
    .map(([depth, shape, where, message]) => {
      const deep = nested(depth, shape);
      if (where === 'root') return jsonCase(flow, 'deep-nesting', deep);
      const copy = structuredClone(message) as Record<string, unknown>;
      const key = where === 'unknown' ? 'nested' : (Object.keys(copy)[0] ?? 'nested');
      copy[key] = DEEP;
      return jsonCase(
        flow,
        'deep-nesting',
        JSON.stringify(copy).replace(JSON.stringify(DEEP), deep),
        `/${key}`,
      );
    });

/** A valid message with thousands of unknown properties, at its root or in one of its objects. */
const manyUnknown = (flow: FlowId): fc.Arbitrary<BadCase> => {
  const type = FLOWS[flow].messageType;
  return fc
    .tuple(
      VALID_MESSAGES[type],
      fc.integer({ min: 500, max: 10_000 }),
      fc.constantFrom(1, 1, 1, 40, 200),
      fc.nat(),
    )
    .map(([message, count, keyLength, pick]) => {
      const objects = sitesOf(message, SCHEMAS[type]).filter(
        (s) => s.value !== null && typeof s.value === 'object' && !Array.isArray(s.value),
      );
      const site = objects[pick % objects.length]!;
      const target = valueAt(message, site.tokens) as Record<string, unknown>;
      const keys = Math.min(count, Math.floor(3_000_000 / (keyLength + 8)));
      for (let i = 0; i < keys; i++) target[`${'k'.repeat(keyLength - 1)}${i}`] = i % 3 === 0 ? {} : i;
      return jsonCase(flow, 'many-unknown', JSON.stringify(message), site.pointer);
    });
};

/** Other encodings: UTF-16, bytes that are not UTF-8, base64 as API Gateway hands over binary media. */
const encodings = (flow: FlowId): fc.Arbitrary<BadCase> =>
  fc
    .tuple(
      validText(flow),
      fc.constantFrom('utf16le', 'utf16le-bom', 'invalid-utf8', 'overlong', 'truncated', 'latin1'),
      fc.nat(),
    )
    .map(([text, encoding, pick]) => {
      // Inside a string value, so that the JSON around the bytes stays well formed.
      const quote = text.indexOf('":"', pick % Math.max(1, text.length - 3)) + 3 || 2;
      const splice = (bytes: number[]) =>
        Buffer.concat([
          Buffer.from(text.slice(0, quote)),
          Buffer.from(bytes),
          Buffer.from(text.slice(quote)),
        ]);
      const body =
        encoding === 'utf16le'
          ? Buffer.from(text, 'utf16le')
          : encoding === 'utf16le-bom'
            ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])
            : encoding === 'invalid-utf8'
              ? splice([0xff])
              : encoding === 'overlong'
                ? splice([0xc0, 0xaf])
                : encoding === 'truncated'
                  ? splice([0xe2, 0x82])
                  : Buffer.from(text.replace('"', '"\u00e9'), 'latin1');
      return {
        kind: 'encoding' as const,
        flow,
        contentType: JSON_TYPE,
        jsonContentType: true,
        body: new Uint8Array(body),
      };
    });

/** Weights of the generated mix; the boundaries ({@link boundaryCases}) come on top, once each. */
const WEIGHTS: Readonly<Record<CaseKind, number>> = {
  valid: 1,
  'wrong-type': 12,
  'missing-field': 10,
  'extra-field': 8,
  limit: 7,
  'proto-key': 6,
  date: 6,
  'huge-number': 5,
  'control-chars': 1,
  'lone-surrogate': 1,
  injection: 4,
  'non-json': 7,
  'non-object': 2,
  'content-type': 6,
  oversized: 0,
  'deep-nesting': 3,
  'many-unknown': 1,
  encoding: 3,
};

const TRANSPORT: Readonly<Partial<Record<CaseKind, (flow: FlowId) => fc.Arbitrary<BadCase>>>> = {
  'non-json': nonJson,
  'non-object': nonObject,
  'content-type': contentTypes,
  'deep-nesting': deepNesting,
  'many-unknown': manyUnknown,
  encoding: encodings,
};

/** One generated case of `flow`, of a kind drawn by {@link WEIGHTS}. */
export const badCaseOf = (flow: FlowId): fc.Arbitrary<BadCase> =>
  fc.oneof(
    ...CASE_KINDS.filter((kind) => WEIGHTS[kind] > 0).map((kind) => {
      const transport = TRANSPORT[kind];
      return {
        weight: WEIGHTS[kind],
        arbitrary: transport
          ? transport(flow)
          : mutatedMessage(FLOWS[flow].messageType, kind as MutationKind).map((m) =>
              jsonCase(flow, kind, mutatedJson(m), kind === 'valid' ? undefined : m.at),
            ),
      };
    }),
  );

/** One generated case: a flow (each alike, or by `flowWeights`), then a kind by {@link WEIGHTS}. */
export const badCase = (flowWeights?: Readonly<Record<FlowId, number>>): fc.Arbitrary<BadCase> =>
  fc.oneof(
    ...FLOW_IDS.map((flow) => ({
      weight: Math.round((flowWeights?.[flow] ?? 1) * 100),
      arbitrary: badCaseOf(flow),
    })),
  );

/**
 * What the contract answers (the status), in its order: 415, 413, 400, then 422 or 202. Bytes are read as the
 * stack reads them: the local gateway as UTF-8 with replacement characters, a base64 event strictly.
 */
export function contractAnswer(
  c: BadCase,
  maxBytes: number,
  wire: 'event' | 'http',
): { status: number; parsed?: unknown } {
  if (!c.jsonContentType) return { status: 415 };
  const bytes = typeof c.body === 'string' ? undefined : Buffer.from(c.body);
  const size = bytes ? bytes.length : Buffer.byteLength(c.body as string);
  if (size > maxBytes) return { status: 413 };
  let text: string;
  if (!bytes) text = c.body as string;
  else if (wire === 'http') text = bytes.toString('utf8');
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      return { status: 400 };
    }
  }
  if (text.trim() === '') return { status: 400 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { status: 400 };
  }
  return { status: validateMessage(FLOWS[c.flow].messageType, parsed).ok ? 202 : 422, parsed };
}

/** Where each flow's business key lives: made unique per case, so that no two accepted bodies share one. */
const KEY_TOKENS: Readonly<Record<FlowId, readonly string[]>> = {
  assetSync: ['sendDetails', 'syncRequestId'],
  optOut: ['optOutId'],
  unavailability: ['unavailabilityId'],
  assetSyncAck: ['syncRequestId'],
  legacyAck: ['MsgAck', 'responses', 'response', '0', 'dacsMessageId'],
};
const pointerOf = (tokens: readonly string[]) => tokens.map((t) => `/${t}`).join('');

/**
 * Gives the case's business key a fresh value `tag`, unless the mutation applied at the key or above it (the
 * key is then what is being tested). Only JSON text bodies of a message; the text is parsed and written again,
 * except where it holds a number literal JSON.parse would round: there the key's text is replaced in place.
 */
export function withFreshKey(c: BadCase, tag: string): BadCase {
  const fresh = freshKey(c, tag);
  if (fresh === c || typeof fresh.body !== 'string') return fresh;
  // A body padded to a size (the size limit ±1) keeps its size.
  const text = fresh.body.trimEnd();
  const padding = Buffer.byteLength(c.body as string) - Buffer.byteLength(text);
  return (c.body as string).endsWith(' ') && padding >= 0
    ? { ...fresh, body: `${text}${' '.repeat(padding)}` }
    : fresh;
}

function freshKey(c: BadCase, tag: string): BadCase {
  if (typeof c.body !== 'string' || !c.body.startsWith('{') || c.body.length > 6_000_000) return c;
  const tokens = KEY_TOKENS[c.flow];
  const key = pointerOf(tokens);
  if (c.at !== undefined && (key === c.at || key.startsWith(`${c.at}/`))) return c;
  let body: unknown;
  try {
    body = JSON.parse(c.body);
  } catch {
    return c;
  }
  const old = valueAt(body, tokens);
  if (typeof old !== 'string') return c;
  const inPlace = () => ({
    ...c,
    body: (c.body as string).replace(JSON.stringify(old), JSON.stringify(tag)),
  });
  if (c.kind === 'huge-number' || c.kind === 'deep-nesting') return inPlace();
  const parent = valueAt(body, tokens.slice(0, -1)) as Record<string, unknown>;
  defineOwn(parent, tokens.at(-1)!, tag);
  return { ...c, body: JSON.stringify(body) };
}

/** Where a limit applies, as a pattern: array indices as `*`, then the keyword. */
const limitPattern = (pointer: string, keyword: string) =>
  `${pointer.replace(/\/\d+(?=\/|$)/g, '/*')} ${keyword}`;

/** Every limit the JSON Schema of `flow` sets, as patterns: `/locationInfo/controllableDevices maxItems`, … */
export function schemaLimits(flow: FlowId): string[] {
  const walk = (schema: SchemaNode, pointer: string): string[] => [
    ...limitsOf(schema).map(({ keyword }) => limitPattern(pointer, keyword)),
    ...Object.entries((schema.properties ?? {}) as Record<string, SchemaNode>).flatMap(([key, sub]) =>
      walk(sub, `${pointer}/${key}`),
    ),
    ...(schema.items ? walk(schema.items as SchemaNode, `${pointer}/*`) : []),
  ];
  return walk(SCHEMAS[FLOWS[flow].messageType], '');
}

/** The limits of every schema that `cases` do not try both at their bound and one past it. */
export function limitsNotCovered(cases: readonly BadCase[]): string[] {
  const covered = new Set(
    cases.flatMap((c) =>
      c.kind === 'limit' && c.at !== undefined && c.note ? [`${c.flow} ${limitPattern(c.at, c.note)}`] : [],
    ),
  );
  return FLOW_IDS.flatMap((flow) =>
    schemaLimits(flow).flatMap((limit) =>
      (['at', 'beyond'] as const).flatMap((side) =>
        covered.has(`${flow} ${limit} ${side}`) ? [] : [`${flow} ${limit} ${side}`],
      ),
    ),
  );
}

/** A valid message of `flow` padded with spaces (which JSON ignores) to exactly `bytes` bytes. */
function paddedTo(message: unknown, bytes: number): string {
  const text = JSON.stringify(message);
  return `${text}${' '.repeat(bytes - Buffer.byteLength(text))}`;
}

/**
 * Every limit ±1, once each: every maxLength, minLength, maxItems, minItems and minimum of every schema, at
 * the bound and one past it (lists of 10,000 grown with compact copies), and the body size limit at
 * `maxBytes` and one byte over it; then the extremes: nesting a million deep, 50,000 unknown properties, a
 * megabyte-long key, a content type of 100,000 characters.
 */
export function boundaryCases(seed: number, maxBytes: number): BadCase[] {
  const fills = ['x', 'é', '字', '\u{1F4A5}'];
  const cases: BadCase[] = [];
  for (const flow of FLOW_IDS) {
    const type = FLOWS[flow].messageType;
    const pool = fc.sample(VALID_MESSAGES[type], { seed, numRuns: 80 });
    const done = new Set<string>();
    for (const message of pool) {
      for (const site of sitesOf(message, SCHEMAS[type])) {
        for (const { keyword, bound } of applicableLimits(site)) {
          const pattern = limitPattern(site.pointer, keyword);
          if (done.has(pattern)) continue;
          done.add(pattern);
          for (const side of ['at', 'beyond'] as LimitSide[]) {
            const body = structuredClone(message) as Record<string, unknown>;
            const parent = valueAt(body, site.tokens.slice(0, -1)) as Record<string, unknown>;
            const fill = fills[cases.length % fills.length];
            parent[site.tokens.at(-1)!] = valueAtLimit(site, keyword, bound, side, fill);
            const c = jsonCase(flow, 'limit', JSON.stringify(body), site.pointer, `${keyword} ${side}`);
            cases.push({ ...c, heavy: keyword === 'maxItems' && bound > 100 && side === 'at' });
          }
        }
      }
    }
    const [message] = pool;
    for (const extra of [0, 1]) {
      const kind = extra === 0 ? 'limit' : 'oversized';
      cases.push(
        jsonCase(flow, kind, paddedTo(message, maxBytes + extra), undefined, `body of max + ${extra} bytes`),
      );
    }
  }
  cases.push(...extremes(seed));
  return cases;
}

function extremes(seed: number): BadCase[] {
  const [message] = fc.sample(VALID_MESSAGES.OptOutNotification, { seed, numRuns: 1 });
  const withKeys = (count: number, key: (i: number) => string) => {
    const body = structuredClone(message) as Record<string, unknown>;
    for (let i = 0; i < count; i++) body[key(i)] = i;
    return JSON.stringify(body);
  };
  const huge = (contentType: string, json: boolean): BadCase => ({
    kind: 'content-type',
    flow: 'optOut',
    contentType,
    jsonContentType: json,
    body: JSON.stringify(message),
    inProcessOnly: true,
  });
  return [
    jsonCase('optOut', 'deep-nesting', nested(1_000_000, 'array')),
    jsonCase('optOut', 'deep-nesting', nested(500_000, 'object')),
    jsonCase('assetSync', 'deep-nesting', nested(1_000_000, 'open')),
    jsonCase(
      'optOut',
      'many-unknown',
      withKeys(50_000, (i) => `u${i}`),
    ),
    jsonCase(
      'unavailability',
      'many-unknown',
      withKeys(3_000, (i) => `${'k'.repeat(999)}${i}`),
    ),
    jsonCase(
      'optOut',
      'extra-field',
      withKeys(1, () => 'k'.repeat(1_000_000)),
    ),
    jsonCase(
      'optOut',
      'extra-field',
      withKeys(1, () => '\u0000'.repeat(200_000)),
    ),
    huge(`text/${'x'.repeat(100_000)}`, false),
    huge(`application/json; x=${'y'.repeat(100_000)}`, true),
  ];
}
