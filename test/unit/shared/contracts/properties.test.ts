import fc from 'fast-check';
import { pointerToken } from '#shared/contracts/rules.ts';
import { SCHEMAS } from '#shared/contracts/schemas.ts';
import { validateMessage } from '#shared/contracts/validate.ts';
import { MESSAGE_TYPES, type MessageType } from '#shared/flows/registry.ts';
import { assetSyncAck, assetSyncRequest, unavailability, VALID_MESSAGES } from './arbitraries.ts';

type Json = Record<string, unknown>;
type Node = Record<string, unknown>;

interface Site {
  pointer: string;
  tokens: string[];
  schema: Node;
  value: unknown;
}

/** Every location in a valid message, with the subschema that governs it. */
function sites(value: unknown, schema: Node, tokens: string[] = []): Site[] {
  const here: Site = {
    pointer: tokens
      .map(pointerToken)
      .join('/')
      .replace(/^(?=.)/, '/'),
    tokens,
    schema,
    value,
  };
  if (Array.isArray(value)) {
    const items = schema.items as Node;
    return [here, ...value.flatMap((v, i) => sites(v, items, [...tokens, String(i)]))];
  }
  if (value !== null && typeof value === 'object') {
    const properties = (schema.properties ?? {}) as Record<string, Node>;
    const children = Object.entries(value).flatMap(([k, v]) =>
      properties[k] ? sites(v, properties[k], [...tokens, k]) : [],
    );
    return [here, ...children];
  }
  return [here];
}

/** A deep copy of `message` with `change` applied to the value at `tokens`. */
function mutate(message: unknown, tokens: string[], change: (parent: Json, key: string) => void): unknown {
  const copy = structuredClone(message) as Json;
  if (tokens.length === 0) {
    change({ root: copy }, 'root');
    return copy;
  }
  let parent: Json = copy;
  for (const token of tokens.slice(0, -1)) parent = parent[token] as Json;
  change(parent, tokens.at(-1)!);
  return copy;
}

/** A valid message of `type` together with one of its sites that `where` selects. */
function messageWithSite(type: MessageType, where: (site: Site) => boolean) {
  return VALID_MESSAGES[type]
    .map((message) => ({ message, candidates: sites(message, SCHEMAS[type] as Node).filter(where) }))
    .filter(({ candidates }) => candidates.length > 0)
    .chain(({ message, candidates }) =>
      fc.record({ message: fc.constant(message), site: fc.constantFrom(...candidates) }),
    );
}

function violationsOf(type: MessageType, body: unknown) {
  const result = validateMessage(type, body);
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.violations;
}

const isObject = (s: Site) => s.value !== null && typeof s.value === 'object' && !Array.isArray(s.value);

describe.each(MESSAGE_TYPES)('%s properties', (type) => {
  it('accepts every generated valid message, unchanged through JSON', () => {
    fc.assert(
      fc.property(VALID_MESSAGES[type], (message) => {
        const body = JSON.parse(JSON.stringify(message));
        expect(validateMessage(type, body)).toEqual({ ok: true, value: message });
      }),
    );
  });

  it('rejects an unknown property anywhere, naming it', () => {
    fc.assert(
      fc.property(messageWithSite(type, isObject), fc.string(), ({ message, site }, suffix) => {
        const key = `unknown${suffix}`;
        const body = mutate(message, site.tokens, (parent, k) => {
          (parent[k] as Json)[key] = 'x';
        });
        expect(violationsOf(type, body)).toContainEqual({
          path: `${site.pointer}/${pointerToken(key)}`,
          message: `unknown property '${key}' is not allowed`,
        });
      }),
    );
  });

  it('rejects an over-long string, at its path', () => {
    fc.assert(
      fc.property(
        messageWithSite(type, (s) => typeof s.value === 'string' && typeof s.schema.maxLength === 'number'),
        fc.integer({ min: 1, max: 50 }),
        ({ message, site }, excess) => {
          const max = site.schema.maxLength as number;
          const body = mutate(message, site.tokens, (parent, k) => {
            parent[k] = '9'.repeat(max + excess);
          });
          expect(violationsOf(type, body)).toContainEqual({
            path: site.pointer,
            message: `must NOT have more than ${max} characters`,
          });
        },
      ),
    );
  });

  it('rejects a missing required property, pointing where it belongs', () => {
    fc.assert(
      fc.property(
        messageWithSite(
          type,
          (s) => isObject(s) && Array.isArray(s.schema.required) && s.schema.required.length > 0,
        ),
        fc.nat(),
        ({ message, site }, pick) => {
          const required = site.schema.required as string[];
          const missing = required[pick % required.length]!;
          const body = mutate(message, site.tokens, (parent, k) => {
            delete (parent[k] as Json)[missing];
          });
          expect(violationsOf(type, body)).toContainEqual({
            path: `${site.pointer}/${missing}`,
            message: 'is required',
          });
        },
      ),
    );
  });

  it('rejects a value outside an enum, at its path', () => {
    fc.assert(
      fc.property(
        messageWithSite(type, (s) => Array.isArray(s.schema.enum)),
        fc.string({ minLength: 1 }),
        ({ message, site }, value) => {
          fc.pre(!(site.schema.enum as unknown[]).includes(value));
          const body = mutate(message, site.tokens, (parent, k) => {
            parent[k] = value;
          });
          expect(violationsOf(type, body).map((v) => v.path)).toContain(site.pointer);
        },
      ),
    );
  });
});

describe('business-rule properties', () => {
  const DEVICES = '/locationInfo/controllableDevices';

  it('rejects any repeated deviceId of an asset sync, at the repeat', () => {
    fc.assert(
      fc.property(assetSyncRequest, fc.nat(), (message, pick) => {
        const devices = message.locationInfo.controllableDevices;
        const copy = structuredClone(devices[pick % devices.length]!);
        devices.push(copy);
        expect(violationsOf('AssetSyncRequest', message)).toContainEqual(
          expect.objectContaining({ path: `${DEVICES}/${devices.length - 1}/deviceId` }),
        );
      }),
    );
  });

  it('rejects a second entity group of a category on any device', () => {
    fc.assert(
      fc.property(
        assetSyncRequest.filter((m) =>
          m.locationInfo.controllableDevices.some((d) => d.entityGroups.length > 0),
        ),
        (message) => {
          const devices = message.locationInfo.controllableDevices;
          const index = devices.findIndex((d) => d.entityGroups.length > 0);
          const groups = devices[index]!.entityGroups;
          groups.push({ entityGroupId: 'OTHER', groupCategory: groups[0]!.groupCategory });
          expect(violationsOf('AssetSyncRequest', message)).toContainEqual(
            expect.objectContaining({
              path: `${DEVICES}/${index}/entityGroups/${groups.length - 1}/groupCategory`,
            }),
          );
        },
      ),
    );
  });

  it('rejects any REGISTER in an UNENROLL, at its registrationAction', () => {
    fc.assert(
      fc.property(
        assetSyncRequest.filter((m) => m.sendDetails.reason === 'UNENROLL'),
        fc.nat(),
        (message, pick) => {
          const devices = message.locationInfo.controllableDevices;
          const index = pick % devices.length;
          devices[index] = { ...devices[index]!, registrationAction: 'REGISTER', networkAddress: '10.0.0.1' };
          expect(violationsOf('AssetSyncRequest', message)).toContainEqual(
            expect.objectContaining({ path: `${DEVICES}/${index}/registrationAction` }),
          );
        },
      ),
    );
  });

  it('rejects a replacement naming a device it does not deregister', () => {
    fc.assert(
      fc.property(
        assetSyncRequest.filter((m) => m.sendDetails.reason === 'DEVICE_REPLACEMENT'),
        fc.nat(),
        (message, pick) => {
          const devices = message.locationInfo.controllableDevices;
          const registers = devices.flatMap((d, i) => (d.registrationAction === 'REGISTER' ? [i] : []));
          const index = registers[pick % registers.length]!;
          devices[index]!.replacesDeviceId = devices[index]!.deviceId;
          expect(violationsOf('AssetSyncRequest', message)).toContainEqual(
            expect.objectContaining({ path: `${DEVICES}/${index}/replacesDeviceId` }),
          );
        },
      ),
    );
  });

  it('rejects any reversed or empty unavailability window, whatever the offsets', () => {
    fc.assert(
      fc.property(
        unavailability.filter((m) => m.startDateTime !== undefined),
        fc.boolean(),
        (message, empty) => {
          const { startDateTime, endDateTime } = message;
          message.startDateTime = endDateTime;
          message.endDateTime = empty ? endDateTime : startDateTime;
          expect(violationsOf('UnavailabilityNotification', message)).toContainEqual({
            path: '/endDateTime',
            message: 'endDateTime must be after startDateTime',
          });
        },
      ),
    );
  });

  it('requires both ends of the window unless CANCEL', () => {
    fc.assert(
      fc.property(
        unavailability.filter((m) => m.action !== 'CANCEL'),
        fc.constantFrom('startDateTime', 'endDateTime' as const),
        (message, field) => {
          delete message[field];
          expect(violationsOf('UnavailabilityNotification', message)).toContainEqual({
            path: `/${field}`,
            message: `${field} is required unless action is CANCEL`,
          });
        },
      ),
    );
  });

  it('rejects any repeated deviceId of an ack, at the repeat', () => {
    fc.assert(
      fc.property(
        assetSyncAck.filter((m) => m.devices.length > 0),
        fc.nat(),
        (message, pick) => {
          message.devices.push(structuredClone(message.devices[pick % message.devices.length]!));
          expect(violationsOf('AssetSyncAck', message)).toContainEqual(
            expect.objectContaining({ path: `/devices/${message.devices.length - 1}/deviceId` }),
          );
        },
      ),
    );
  });
});
