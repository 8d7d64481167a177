import type { AddressInfo } from 'node:net';
import {
  applyAcknowledgement,
  createDacsSimulator,
  DACS_ROUTES,
  type DacsSimulator,
  type DeviceFlag,
} from '#local/simulators/dacs.ts';

describe('applyAcknowledgement', () => {
  it("keeps each device's head-end registration flag, the latest one winning", () => {
    const devices = new Map<string, DeviceFlag>();
    const t1 = new Date('2026-12-01T00:00:00Z');
    applyAcknowledgement(
      devices,
      {
        deviceHeadendStatus: [
          { deviceId: 'D1', headEndRegistration: 'D1NR' },
          { deviceId: 'D2', headEndRegistration: 'D1RE' },
        ],
      },
      t1,
    );
    applyAcknowledgement(
      devices,
      { deviceHeadendStatus: [{ deviceId: 'D1', headEndRegistration: 'D1RE' }] },
      t1,
    );
    expect([...devices.values()]).toEqual([
      { deviceId: 'D1', headEndRegistration: 'D1RE', updatedAt: t1.toISOString() },
      { deviceId: 'D2', headEndRegistration: 'D1RE', updatedAt: t1.toISOString() },
    ]);
  });

  it('ignores a body without deviceHeadendStatus', () => {
    const devices = new Map<string, DeviceFlag>();
    applyAcknowledgement(devices, { MsgAck: {} });
    applyAcknowledgement(devices, null);
    expect(devices.size).toBe(0);
  });
});

describe('the DACS simulator with repeated acknowledgements', () => {
  let dacs: DacsSimulator;
  let base: string;
  beforeAll(async () => {
    dacs = createDacsSimulator();
    await dacs.listen(0);
    base = `http://127.0.0.1:${(dacs.server.address() as AddressInfo).port}`;
  });
  afterAll(() => dacs.close());
  beforeEach(async () => {
    await fetch(`${base}/sim/calls`, { method: 'DELETE' });
    await fetch(`${base}/sim/devices`, { method: 'DELETE' });
    await fetch(`${base}/sim/faults`, { method: 'DELETE' });
  });

  const acknowledge = (key: string, flag: string) =>
    fetch(`${base}${DACS_ROUTES.ack}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
      body: JSON.stringify({
        syncRequestId: 'SR-1',
        hasError: flag !== 'D1RE',
        exceptionInfo: [],
        deviceHeadendStatus: [{ deviceId: 'D1', headEndRegistration: flag, message: '' }],
      }),
    });
  const flagOf = async (deviceId: string) =>
    ((await (await fetch(`${base}/sim/devices/${deviceId}`)).json()) as DeviceFlag).headEndRegistration;

  it('keeps the flag of the first delivery of a key: a repeat is answered 200 and changes nothing', async () => {
    expect((await acknowledge('SR-1', 'D1RE')).status).toBe(200);
    expect((await acknowledge('SR-1', 'D1NR')).status).toBe(200);
    expect(await flagOf('D1')).toBe('D1RE');
    const calls = (await (await fetch(`${base}/sim/calls`)).json()) as {
      delivery: number;
      duplicate: boolean;
    }[];
    expect(calls.map((c) => [c.delivery, c.duplicate])).toEqual([
      [1, false],
      [2, true],
    ]);
    // A follow-up carries a key of its own, and applies.
    expect((await acknowledge('SR-1#D1#1', 'D1NR')).status).toBe(200);
    expect(await flagOf('D1')).toBe('D1NR');
  });

  it('applies the delivery that follows one refused by a fault rule', async () => {
    await fetch(`${base}/sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ match: { businessKey: 'SR-1' }, action: 'status', status: 500, times: 1 }),
    });
    expect((await acknowledge('SR-1', 'D1NR')).status).toBe(500);
    expect((await fetch(`${base}/sim/devices/D1`)).status).toBe(404);
    expect((await acknowledge('SR-1', 'D1RE')).status).toBe(200);
    expect(await flagOf('D1')).toBe('D1RE');
  });
});
