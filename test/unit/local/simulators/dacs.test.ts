import { applyAcknowledgement, type DeviceFlag } from '#local/simulators/dacs.ts';

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
