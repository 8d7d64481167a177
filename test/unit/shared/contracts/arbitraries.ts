/**
 * fast-check arbitraries of valid inbound messages: every schema limit and business rule respected, with
 * unicode identifiers, any offset and optional fields present or not. Below them, the same messages mutated
 * at a location their JSON Schema governs (wrong types, missing and unknown fields, every limit ±1, odd
 * keys, dates, numbers and strings), for the bad-input campaign of the reliability suite.
 */
import fc from 'fast-check';
import { pointerToken } from '#shared/contracts/rules.ts';
import { SCHEMAS } from '#shared/contracts/schemas.ts';
import type {
  AckDevice,
  AssetSyncAck,
  AssetSyncRequest,
  ControllableDevice,
  EntityGroup,
  LegacyMsgAck,
  OptOutNotification,
  UnavailabilityNotification,
} from '#shared/contracts/types.ts';
import type { MessageType } from '#shared/flows/registry.ts';

/** A string of 1..max characters (code points, as JSON Schema counts them). */
export const id = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', minLength: 1, maxLength: max });
const text = (max: number) => fc.string({ unit: 'binary', maxLength: max });

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');

/** An RFC 3339 timestamp of `epochMs` as seen from `offsetMinutes`, with an optional fraction. */
export function formatInstant(epochMs: number, offsetMinutes: number, fraction: string): string {
  const local = new Date(epochMs + offsetMinutes * 60_000);
  const date = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const offset =
    offsetMinutes === 0
      ? 'Z'
      : `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.trunc(offsetMinutes / 60))}:${pad(offsetMinutes % 60)}`;
  return `${date}T${time}${fraction ? `.${fraction}` : ''}${offset}`;
}

const MIN_MS = Date.UTC(2000, 0, 1);
const MAX_MS = Date.UTC(2099, 0, 1);
const offsetMinutes = fc.integer({ min: -48, max: 56 }).map((quarters) => quarters * 15);
const fraction = fc.oneof(fc.constant(''), fc.stringMatching(/^\d{1,9}$/));

/** A timestamp somewhere in this century, at any offset from -12:00 to +14:00. */
export const dateTimeAt = (epochMs: fc.Arbitrary<number>) =>
  fc.tuple(epochMs, offsetMinutes, fraction).map(([ms, offset, f]) => formatInstant(ms, offset, f));
export const dateTime = dateTimeAt(fc.integer({ min: MIN_MS, max: MAX_MS }));

const entityGroups: fc.Arbitrary<EntityGroup[]> = fc.uniqueArray(
  fc.record({ entityGroupId: id(100), groupCategory: id(100) }),
  { maxLength: 4, selector: (g) => g.groupCategory },
);

type Action = ControllableDevice['registrationAction'];

function device(
  deviceId: string,
  action: Action,
  replacesDeviceId?: string,
): fc.Arbitrary<ControllableDevice> {
  return fc
    .record(
      {
        headEndSystem: id(50),
        nicId: id(100),
        networkAddress: id(100),
        entityGroups,
        deviceType: id(100),
        make: id(100),
        model: id(100),
        serialNumber: id(100),
      },
      { requiredKeys: ['headEndSystem', 'nicId', 'entityGroups', 'deviceType'] },
    )
    .chain((rest) =>
      action === 'REGISTER' && rest.networkAddress === undefined
        ? id(100).map((networkAddress) => ({ ...rest, networkAddress }))
        : fc.constant(rest),
    )
    .map((rest) => ({
      deviceId,
      registrationAction: action,
      ...rest,
      ...(replacesDeviceId === undefined ? {} : { replacesDeviceId }),
    }));
}

const deviceIds = (min: number, max: number) => fc.uniqueArray(id(12), { minLength: min, maxLength: max });

const devicesFor = (
  reason: AssetSyncRequest['sendDetails']['reason'],
): fc.Arbitrary<ControllableDevice[]> => {
  switch (reason) {
    case 'UNENROLL':
      return deviceIds(1, 4).chain((ids) => fc.tuple(...ids.map((d) => device(d, 'DEREGISTER'))));
    case 'DEVICE_REPLACEMENT':
      return deviceIds(2, 6).chain((ids) =>
        fc.integer({ min: 1, max: ids.length - 1 }).chain((split) => {
          const removed = ids.slice(0, split);
          return fc.tuple(
            ...removed.map((d) => device(d, 'DEREGISTER')),
            ...ids
              .slice(split)
              .map((d) => fc.constantFrom(...removed).chain((r) => device(d, 'REGISTER', r))),
          );
        }),
      );
    default:
      return deviceIds(1, 4).chain((ids) =>
        fc.tuple(
          ...ids.map((d) => fc.constantFrom<Action>('REGISTER', 'DEREGISTER').chain((a) => device(d, a))),
        ),
      );
  }
};

export const assetSyncRequest: fc.Arbitrary<AssetSyncRequest> = fc
  .constantFrom('ENROLL', 'UNENROLL', 'DEVICE_REPLACEMENT', 'ADD_DEVICE' as const)
  .chain((reason) =>
    fc.record({
      sendDetails: fc.record({ syncRequestId: id(14), sentDateTime: dateTime, reason: fc.constant(reason) }),
      contactInfo: fc.record({ contactId: id(100), cisPersonId: id(100) }),
      subscriptionInfo: fc.record(
        {
          subscriptionId: id(100),
          cisAccountId: id(100),
          programId: id(100),
          programCode: id(100),
          subscriptionType: id(100),
          status: id(100),
          startDateTimeISO: dateTime,
          endDateTimeISO: dateTime,
        },
        {
          requiredKeys: [
            'subscriptionId',
            'cisAccountId',
            'programId',
            'programCode',
            'subscriptionType',
            'status',
            'startDateTimeISO',
          ],
        },
      ),
      locationInfo: fc.record(
        {
          division: id(100),
          servicePointId: id(100),
          cisPremiseId: id(100),
          cisServicePointId: id(100),
          rateClass: id(100),
          controllableDevices: devicesFor(reason),
        },
        {
          requiredKeys: [
            'division',
            'servicePointId',
            'cisPremiseId',
            'cisServicePointId',
            'controllableDevices',
          ],
        },
      ),
    }),
  );

export const optOut: fc.Arbitrary<OptOutNotification> = fc.record(
  {
    optOutId: id(100),
    eventExternalIdentifier: id(120),
    programId: id(100),
    subscriptionId: id(100),
    deviceId: id(12),
    headEndSystem: id(50),
    nicId: id(100),
    requestedDateTime: dateTime,
    channel: fc.constantFrom('PHONE', 'EMAIL', 'OTHER' as const),
    eventStartDateTime: dateTime,
    reason: text(2000),
  },
  {
    requiredKeys: [
      'optOutId',
      'eventExternalIdentifier',
      'programId',
      'subscriptionId',
      'deviceId',
      'headEndSystem',
      'nicId',
      'requestedDateTime',
      'channel',
    ],
  },
);

/** A window whose end is at least one second after its start, the two at independent offsets. */
const window = fc
  .tuple(fc.integer({ min: MIN_MS, max: MAX_MS }), fc.integer({ min: 1, max: 366 * 86_400 }))
  .chain(([start, seconds]) =>
    fc.record({
      startDateTime: dateTimeAt(fc.constant(start)),
      endDateTime: dateTimeAt(fc.constant(start + seconds * 1000 + 1000)),
    }),
  );

export const unavailability: fc.Arbitrary<UnavailabilityNotification> = fc
  .tuple(
    fc.constantFrom('ADD', 'UPDATE', 'CANCEL' as const),
    fc.record(
      {
        unavailabilityId: id(100),
        updatedDateTime: dateTime,
        deviceId: id(12),
        headEndSystem: id(50),
        nicId: id(100),
        programId: id(100),
        reason: text(254),
        comments: text(2000),
      },
      { requiredKeys: ['unavailabilityId', 'updatedDateTime', 'deviceId', 'headEndSystem', 'nicId'] },
    ),
    window,
    fc.boolean(),
  )
  .map(([action, rest, win, keepWindow]) => ({
    action,
    ...rest,
    ...(action !== 'CANCEL' || keepWindow ? win : {}),
  }));

const ackDevices: fc.Arbitrary<AckDevice[]> = deviceIds(0, 5).chain((ids) =>
  fc.tuple(
    ...ids.map((deviceId) =>
      fc
        .record(
          {
            headEndSystem: id(50),
            nicId: id(100),
            registrationStatus: fc.constantFrom('REGISTERED', 'DEREGISTERED', 'FAILED', 'PENDING' as const),
            message: text(2000),
          },
          { requiredKeys: ['headEndSystem', 'nicId', 'registrationStatus'] },
        )
        .map((rest) => ({ deviceId, ...rest })),
    ),
  ),
);

export const assetSyncAck: fc.Arbitrary<AssetSyncAck> = fc.record(
  {
    syncRequestId: id(14),
    ackType: fc.constantFrom('SUCCESS', 'ERROR', 'FAILURE' as const),
    ackDateTime: dateTime,
    sequence: fc.integer({ min: 1, max: 1_000_000 }),
    final: fc.boolean(),
    errors: fc.array(fc.record({ code: id(100), message: text(2000) }), { maxLength: 3 }),
    devices: ackDevices,
  },
  { requiredKeys: ['syncRequestId', 'ackType', 'ackDateTime', 'sequence', 'final', 'devices'] },
);

export const legacyAck: fc.Arbitrary<LegacyMsgAck> = fc.record({
  MsgAck: fc.record({
    ackType: fc.constantFrom('SUCCESS', 'ERROR', 'FAILURE' as const),
    whenISO: dateTime,
    responses: fc.record({
      response: fc.array(
        fc.record({ responseCode: id(100), dacsMessageId: id(100), responseTimeISO: dateTime }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  }),
});

export const VALID_MESSAGES: { readonly [T in MessageType]: fc.Arbitrary<unknown> } = {
  AssetSyncRequest: assetSyncRequest,
  OptOutNotification: optOut,
  UnavailabilityNotification: unavailability,
  AssetSyncAck: assetSyncAck,
  LegacyMsgAck: legacyAck,
};

// ─── Bad input: the valid messages above, mutated at a location their JSON Schema governs ───────────────────

/** A (sub)schema as stored: only the keywords the mutations look at are read. */
export type SchemaNode = Readonly<Record<string, unknown>>;

/** One location in a message: its JSON Pointer (as tokens and as text), the subschema governing it, its value. */
export interface Site {
  readonly tokens: readonly string[];
  readonly pointer: string;
  readonly schema: SchemaNode;
  readonly value: unknown;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Every location of a message, root first, each with the subschema that governs it. */
export function sitesOf(value: unknown, schema: SchemaNode, tokens: readonly string[] = []): Site[] {
  const here: Site = { tokens, pointer: tokens.map((t) => `/${pointerToken(t)}`).join(''), schema, value };
  if (Array.isArray(value)) {
    const items = (schema.items ?? {}) as SchemaNode;
    return [here, ...value.flatMap((v, i) => sitesOf(v, items, [...tokens, String(i)]))];
  }
  if (isPlainObject(value)) {
    const properties = (schema.properties ?? {}) as Record<string, SchemaNode>;
    const children = Object.entries(value).flatMap(([k, v]) =>
      properties[k] ? sitesOf(v, properties[k], [...tokens, k]) : [],
    );
    return [here, ...children];
  }
  return [here];
}

/** A deep copy of `message` whose value at `tokens` went through `change(parent, key)`; the root is `root`. */
export function mutateAt(
  message: unknown,
  tokens: readonly string[],
  change: (parent: Record<string, unknown>, key: string) => void,
): unknown {
  const holder: Record<string, unknown> = { root: structuredClone(message) };
  let parent = holder;
  let key = 'root';
  for (const token of tokens) {
    parent = parent[key] as Record<string, unknown>;
    key = token;
  }
  change(parent, key);
  return holder.root;
}

/** The value of `message` at `tokens`, or undefined. */
export function valueAt(message: unknown, tokens: readonly string[]): unknown {
  let value = message;
  for (const token of tokens) value = (value as Record<string, unknown> | null | undefined)?.[token];
  return value;
}

/** Sets an own property, also where assignment would not (`__proto__`). */
export function defineOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const isDateSite = (s: Site) => s.schema.format === 'date-time';
const isEnumSite = (s: Site) => Array.isArray(s.schema.enum);
/** A string whose content is free (an identifier or a text): no enum, no date. */
const isFreeStringSite = (s: Site) => typeof s.value === 'string' && !isDateSite(s) && !isEnumSite(s);
const isObjectSite = (s: Site) => isPlainObject(s.value);
const clipChars = (text: string, max: unknown) =>
  typeof max === 'number' ? [...text].slice(0, max).join('') : text;

export const LIMIT_KEYWORDS = ['maxLength', 'minLength', 'maxItems', 'minItems', 'minimum'] as const;
export type LimitKeyword = (typeof LIMIT_KEYWORDS)[number];
/** At the bound (allowed) or one past it (refused). */
export type LimitSide = 'at' | 'beyond';

/** The limits a subschema sets on its value. */
export const limitsOf = (schema: SchemaNode): { keyword: LimitKeyword; bound: number }[] =>
  LIMIT_KEYWORDS.flatMap((keyword) =>
    typeof schema[keyword] === 'number' ? [{ keyword, bound: schema[keyword] as number }] : [],
  );

/** A limit applies where the value can be cut or grown to it: an array needs an item to copy to grow. */
const canApply = (site: Site, keyword: LimitKeyword) =>
  keyword === 'maxLength' || keyword === 'minLength'
    ? typeof site.value === 'string'
    : keyword === 'minimum'
      ? typeof site.value === 'number'
      : Array.isArray(site.value) && (site.value.length > 0 || keyword === 'minItems');

/** Every limit of `site` that can be applied to it. */
export const applicableLimits = (site: Site) =>
  limitsOf(site.schema).filter((l) => canApply(site, l.keyword));

/** An item as small as its schema allows: free strings 'x', optional arrays emptied; enums and dates kept. */
function compactItem(item: unknown, schema: SchemaNode): unknown {
  if (!isPlainObject(item)) return item;
  const properties = (schema.properties ?? {}) as Record<string, SchemaNode>;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) {
    const sub = properties[key] ?? {};
    if (typeof value === 'string' && !sub.enum && sub.format !== 'date-time') copy[key] = 'x';
    else if (Array.isArray(value) && !sub.minItems) copy[key] = [];
    else copy[key] = structuredClone(value);
  }
  return copy;
}

/** The i-th copy of an item, with the fields that must be unique within a list made unique. */
function uniqueCopy(item: unknown, i: number): unknown {
  if (!isPlainObject(item)) return item;
  const copy = { ...item };
  if (typeof copy.deviceId === 'string') copy.deviceId = `U${i}`;
  if (typeof copy.groupCategory === 'string') copy.groupCategory = `G${i}`;
  return copy;
}

/**
 * The value `site` takes at one of its limits: a string of `fill` code points (counted as JSON Schema counts
 * characters), an array cut or grown with compact copies of its first item, or a number at or below a minimum.
 */
export function valueAtLimit(site: Site, keyword: LimitKeyword, bound: number, side: LimitSide, fill = 'x') {
  const past = keyword.startsWith('max') ? bound + 1 : bound - 1;
  const size = side === 'at' ? bound : past;
  if (keyword === 'minimum') return size;
  if (typeof site.value === 'string') return fill.repeat(Math.max(0, size));
  const items = site.value as unknown[];
  if (size <= items.length) return structuredClone(items.slice(0, Math.max(0, size)));
  const template = compactItem(items[0], (site.schema.items ?? {}) as SchemaNode);
  return [
    ...structuredClone(items),
    ...Array.from({ length: size - items.length }, (_, i) => uniqueCopy(template, i)),
  ];
}

// Values that have broken parsers, query languages, pointers and logs elsewhere. The DynamoDB expression
// syntax and the JSON Pointer escapes matter most here: identifiers end up in keys and in error paths.
export const INJECTION_STRINGS = [
  "' OR '1'='1",
  "'; DROP TABLE trace; --",
  '" OR ""="',
  '{"$ne":null}',
  '$where',
  '#a',
  ':v',
  '#pk = :pk',
  'attribute_exists(pk)',
  'attribute_not_exists(pk) OR #a = :v',
  'SET #a = :v REMOVE pk',
  '/',
  '~0',
  '~1',
  '~01',
  '/~1/~0/..',
  '..',
  '../../etc/passwd',
  '..\\..\\windows',
  '%00',
  '%2e%2e%2f',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the injection is the point
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  ']]>',
  '\r\nX-Injected: 1',
  '\n{"level":"ERROR","message":"forged"}',
  '%s%s%n',
  'null',
  'undefined',
  'NaN',
  '__proto__',
  'constructor',
  '\\',
  '\u202Egnp.exe',
  '\u200B',
  'SYNC#',
  'UNAV#',
  'pk',
  '*',
  ',',
  '#',
] as const;
export const injectionString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...INJECTION_STRINGS),
  fc
    .array(fc.constantFrom(...INJECTION_STRINGS), { minLength: 2, maxLength: 4 })
    .map((parts) => parts.join('')),
);

const controlChar = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\u007f', '\u0085', '\u2028', '\u2029', '\ufeff', '\ufffe', '\uffff'),
);
/** Control characters, with or without text around them. */
export const controlString: fc.Arbitrary<string> = fc
  .tuple(fc.string({ maxLength: 4 }), fc.string({ unit: controlChar, minLength: 1, maxLength: 8 }))
  .map(([text, controls]) => `${text}${controls}${text}`);

/** A string holding a lone surrogate (or a reversed pair): valid JSON text, not valid Unicode. */
export const loneSurrogateString: fc.Arbitrary<string> = fc
  .tuple(fc.string({ maxLength: 4 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.boolean())
  .map(([text, unit, reversed]) =>
    reversed ? `${text}\udc00\ud800` : `${text}${String.fromCharCode(unit)}${text}`,
  );

/** Timestamps RFC 3339 or the calendar refuses: impossible dates and times, bad offsets, other notations. */
export const BAD_DATE_TIMES = [
  '2026-02-29T12:00:00Z',
  '2026-02-30T12:00:00Z',
  '2026-04-31T12:00:00Z',
  '2026-13-01T12:00:00Z',
  '2026-00-10T12:00:00Z',
  '2026-12-00T12:00:00Z',
  '2026-12-01T24:00:00Z',
  '2026-12-01T23:60:00Z',
  '2026-12-01T12:00:61Z',
  '2026-12-01T12:00:60Z',
  '2026-12-01T14:00:00',
  '2026-12-01T14:00:00+0800',
  '2026-12-01T14:00:00+24:00',
  '2026-12-01T14:00:00+08:60',
  '2026-12-01 14:00:00Z',
  '2026-12-01T14:00:00.Z',
  '2026-12-01T14:00:00.1234567890Z',
  '+002026-12-01T14:00:00Z',
  '26-12-01T14:00:00Z',
  '2026-12-01',
  '14:00:00Z',
  '2026-W48-2T14:00:00Z',
  '１２３４-12-01T14:00:00Z',
  '2026-12-01T14:00:00Z ',
  ' 2026-12-01T14:00:00Z',
  '2026-12-01T14:00:00Z\n',
  'Tue, 01 Dec 2026 14:00:00 GMT',
  '1764597600',
  '',
] as const;
/** Leap seconds: 23:59:60 in UTC, however offset; RFC 3339 allows them. */
export const LEAP_SECOND_DATE_TIMES = [
  '2016-12-31T23:59:60Z',
  '2016-12-31T23:59:60.999Z',
  '2016-12-31T15:59:60-08:00',
  '2017-01-01T05:29:60+05:30',
  '2026-06-30T23:59:60+00:00',
  '1990-12-31t23:59:60z',
] as const;
export const badDateTime: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...BAD_DATE_TIMES),
  fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: 0, max: 99 }),
    )
    .map(([y, mo, d, h, mi, s]) => `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}Z`),
);
export const leapSecondDateTime: fc.Arbitrary<string> = fc.constantFrom(...LEAP_SECOND_DATE_TIMES);

/** Numbers JSON can write and IEEE 754 cannot hold, or holds only rounded. */
export const HUGE_NUMBERS = [
  '1e400',
  '-1e400',
  '1e308',
  '1.7976931348623157e308',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890',
  '1e-400',
  '4.9e-324',
  '-0',
  '1.0',
  '1E2',
  '0.9999999999999999999999',
  `1${'0'.repeat(1000)}`,
] as const;
export const hugeNumber: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HUGE_NUMBERS),
  fc.integer({ min: 300, max: 100_000 }).map((e) => `9e${e}`),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 256n }).map(String),
);
/** Stands in a body for a number literal JSON.stringify cannot write; see {@link mutatedJson}. */
export const NUMBER_PLACEHOLDER = '\u0001number\u0001';

/** Keys that mean something to JavaScript objects. JSON.parse makes them own properties, nothing more. */
export const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
  '__defineGetter__',
  'isPrototypeOf',
] as const;

const wrongTypeValues = [null, true, false, 0, -1, 1.5, 'x', '', [], [1], {}, { a: 1 }] as const;
const hasType = (value: unknown, type: unknown) => {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isPlainObject(value);
    default:
      return false;
  }
};

export const MUTATION_KINDS = [
  'valid',
  'wrong-type',
  'missing-field',
  'extra-field',
  'limit',
  'proto-key',
  'date',
  'huge-number',
  'control-chars',
  'lone-surrogate',
  'injection',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

/** A generated message after one mutation: where it applied, and the number literal for the placeholder. */
export interface Mutated {
  readonly kind: MutationKind;
  readonly body: unknown;
  /** JSON Pointer of the mutated location ('' for the root). */
  readonly at: string;
  readonly literal?: string;
}

/** The JSON text of a mutated message, with its number literal written in. */
export const mutatedJson = (m: Mutated): string => {
  const text = JSON.stringify(m.body) ?? 'null';
  return m.literal === undefined ? text : text.replace(JSON.stringify(NUMBER_PLACEHOLDER), m.literal);
};

/** Whether `schema` or any subschema under its properties and items satisfies `where`. */
function schemaHas(schema: SchemaNode, where: (node: SchemaNode) => boolean): boolean {
  if (where(schema)) return true;
  const children = [
    ...Object.values((schema.properties ?? {}) as Record<string, SchemaNode>),
    ...(schema.items ? [schema.items as SchemaNode] : []),
  ];
  return children.some((child) => schemaHas(child, where));
}

/** A valid message of `type` with one of its sites that `where` selects. */
function withSite(type: MessageType, where: (site: Site) => boolean) {
  return VALID_MESSAGES[type]
    .map((message) => ({ message, candidates: sitesOf(message, SCHEMAS[type]).filter(where) }))
    .filter(({ candidates }) => candidates.length > 0)
    .chain(({ message, candidates }) =>
      fc.record({ message: fc.constant(message), site: fc.constantFrom(...candidates) }),
    );
}

/** `value` set at `site` of `message`. */
const setAt = (message: unknown, site: Site, value: unknown) =>
  mutateAt(message, site.tokens, (parent, key) => {
    parent[key] = value;
  });

const fill = fc.constantFrom('x', 'é', '字', '\u{1F4A5}', '\u0000');
const anyJson = fc.jsonValue({ maxDepth: 2 });

const MUTATIONS: {
  readonly [K in MutationKind]: (type: MessageType) => fc.Arbitrary<Omit<Mutated, 'kind'>>;
} = {
  valid: (type) => VALID_MESSAGES[type].map((body) => ({ body, at: '' })),
  'wrong-type': (type) =>
    withSite(type, () => true).chain(({ message, site }) =>
      fc
        .constantFrom(...wrongTypeValues)
        .filter((v) => !hasType(v, site.schema.type))
        .map((v) => ({ body: setAt(message, site, structuredClone(v)), at: site.pointer })),
    ),
  'missing-field': (type) =>
    withSite(type, (s) => isObjectSite(s) && Array.isArray(s.schema.required)).chain(({ message, site }) =>
      fc.subarray(site.schema.required as string[], { minLength: 1 }).map((missing) => ({
        body: mutateAt(message, site.tokens, (parent, key) => {
          for (const name of missing) delete (parent[key] as Record<string, unknown>)[name];
        }),
        at: `${site.pointer}/${missing[0]}`,
      })),
    ),
  'extra-field': (type) =>
    withSite(type, isObjectSite).chain(({ message, site }) =>
      fc
        .tuple(
          fc.oneof(
            fc.string({ unit: 'binary', maxLength: 20 }),
            fc
              .constantFrom(...Object.keys((site.schema.properties ?? {}) as object))
              .map((k) => k.toUpperCase()),
            fc.constantFrom('', ' ', '$ref', '$schema', 'additionalProperties', 'x'.repeat(10_000)),
          ),
          anyJson,
        )
        .filter(([k]) => !Object.hasOwn((site.schema.properties ?? {}) as object, k))
        .map(([k, v]) => ({
          body: mutateAt(message, site.tokens, (parent, key) => defineOwn(parent[key] as object, k, v)),
          at: `${site.pointer}/${pointerToken(k)}`,
        })),
    ),
  limit: (type) =>
    withSite(type, (s) =>
      // Lists of 1,000 and more are grown to their limit once each (test/reliability/badInputCases.ts).
      applicableLimits(s).some((l) => !l.keyword.endsWith('Items') || l.bound <= 100),
    ).chain(({ message, site }) =>
      fc
        .tuple(
          fc.constantFrom(
            ...applicableLimits(site).filter((l) => !l.keyword.endsWith('Items') || l.bound <= 100),
          ),
          fc.constantFrom<LimitSide>('at', 'beyond'),
          fill,
        )
        .map(([{ keyword, bound }, side, char]) => ({
          body: setAt(message, site, valueAtLimit(site, keyword, bound, side, char)),
          at: site.pointer,
        })),
    ),
  'proto-key': (type) =>
    fc.oneof(
      withSite(type, isObjectSite).chain(({ message, site }) =>
        fc
          .tuple(
            fc.constantFrom(...PROTO_KEYS),
            fc.constantFrom<unknown>(
              { polluted: true },
              { prototype: { polluted: true } },
              null,
              'x',
              structuredClone(message),
            ),
          )
          .map(([k, v]) => ({
            body: mutateAt(message, site.tokens, (parent, key) =>
              defineOwn(parent[key] as object, k, structuredClone(v)),
            ),
            at: `${site.pointer}/${pointerToken(k)}`,
          })),
      ),
      // Every field under `__proto__`: nothing may read them through the prototype chain.
      VALID_MESSAGES[type].map((message) => {
        const body = {};
        defineOwn(body, '__proto__', message);
        return { body, at: '/__proto__' };
      }),
    ),
  date: (type) =>
    withSite(type, isDateSite).chain(({ message, site }) =>
      fc
        .oneof({ arbitrary: badDateTime, weight: 3 }, { arbitrary: leapSecondDateTime, weight: 1 })
        .map((v) => ({ body: setAt(message, site, v), at: site.pointer })),
    ),
  'huge-number': (type) =>
    fc
      .oneof(
        ...(schemaHas(SCHEMAS[type], (node) => node.type === 'integer')
          ? [withSite(type, (s) => s.schema.type === 'integer')]
          : []),
        withSite(type, () => true),
      )
      .chain(({ message, site }) =>
        hugeNumber.map((literal) => ({
          body: setAt(message, site, NUMBER_PLACEHOLDER),
          at: site.pointer,
          literal,
        })),
      ),
  'control-chars': (type) =>
    withSite(type, isFreeStringSite).chain(({ message, site }) =>
      controlString.map((v) => ({
        body: setAt(message, site, clipChars(v, site.schema.maxLength)),
        at: site.pointer,
      })),
    ),
  'lone-surrogate': (type) =>
    withSite(type, isFreeStringSite).chain(({ message, site }) =>
      loneSurrogateString.map((v) => ({
        body: setAt(message, site, clipChars(v, site.schema.maxLength)),
        at: site.pointer,
      })),
    ),
  injection: (type) =>
    withSite(type, (s) => typeof s.value === 'string').chain(({ message, site }) =>
      fc.tuple(injectionString, fc.boolean()).map(([v, clip]) => ({
        body: setAt(message, site, clip ? clipChars(v, site.schema.maxLength) : v),
        at: site.pointer,
      })),
    ),
};

/** A valid message of `type` after one mutation of `kind` ('valid': none). */
export const mutatedMessage = (type: MessageType, kind: MutationKind): fc.Arbitrary<Mutated> =>
  MUTATIONS[kind](type).map((m) => ({ kind, ...m }));
