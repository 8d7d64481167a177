import { enrollmentDevices, planAcks } from '#local/simulators/derms.ts';

const devices = [
  { deviceId: 'D1', headEndSystem: 'H', nicId: 'N1', registrationAction: 'REGISTER' },
  { deviceId: 'D2', headEndSystem: 'H', nicId: 'N2', registrationAction: 'DEREGISTER' },
  { deviceId: 'D3', headEndSystem: 'H', nicId: 'N3', registrationAction: 'REGISTER' },
];

describe('enrollmentDevices', () => {
  it('reads devices from locationInfo.controllableDevices or devices', () => {
    expect(enrollmentDevices({ locationInfo: { controllableDevices: devices } })).toEqual(devices);
    expect(enrollmentDevices({ devices })).toEqual(devices);
    expect(enrollmentDevices({})).toEqual([]);
  });
});

describe('planAcks', () => {
  it('sends one partial ack per chunk, then a final one', () => {
    const acks = planAcks('SR', devices, new Map(), 2);
    expect(acks.map((a) => [a.sequence, a.final, a.devices.map((d) => d.deviceId), a.ackType])).toEqual([
      [1, false, ['D1', 'D2'], 'SUCCESS'],
      [2, false, ['D3'], 'SUCCESS'],
      [3, true, [], 'SUCCESS'],
    ]);
  });

  it('reports each device as its registrationAction asked', () => {
    const statuses = planAcks('SR', devices, new Map(), 10)[0]?.devices.map((d) => d.registrationStatus);
    expect(statuses).toEqual(['REGISTERED', 'DEREGISTERED', 'REGISTERED']);
  });

  it('reports a headEndFail device as FAILED with its message, and the acks as ERROR', () => {
    const acks = planAcks('SR', devices, new Map([['D3', 'no answer']]), 2);
    expect(acks[1]).toMatchObject({
      ackType: 'ERROR',
      devices: [{ deviceId: 'D3', registrationStatus: 'FAILED', message: 'no answer' }],
    });
    expect(acks[0]?.ackType).toBe('SUCCESS');
    expect(acks[2]).toMatchObject({ final: true, ackType: 'ERROR' });
  });
});

describe('planAcks for a large request', () => {
  it('reports 10,000 devices in at most MAX_PARTIAL_ACKS partial acks plus the final one, every device once', async () => {
    const { MAX_PARTIAL_ACKS, planAcks } = await import('#local/simulators/derms.ts');
    const devices = Array.from({ length: 10_000 }, (_, i) => ({
      deviceId: `D${i}`,
      headEndSystem: 'HES',
      nicId: `N${i}`,
      registrationAction: 'REGISTER' as const,
    }));
    const acks = planAcks('SR-BIG', devices, new Map(), 2);
    expect(acks).toHaveLength(MAX_PARTIAL_ACKS + 1);
    expect(acks.at(-1)).toMatchObject({ final: true, devices: [] });
    expect(acks.flatMap((a) => a.devices.map((d) => d.deviceId))).toEqual(devices.map((d) => d.deviceId));
  });
});
