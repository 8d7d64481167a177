import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  flagFor,
  getSyncRequestStatus,
  handleAck,
  isTerminal,
  recordSyncRequest,
} from '#shared/consolidation/index.ts';
import type { RegistrationStatus } from '#shared/consolidation/types.ts';
import type { AssetSyncAck } from '#shared/contracts/types.ts';
import { ackContext, DEADLINE, dacs, ids, newSyncRequestId, request, T0 } from './fixtures.ts';

const ROUNDS = 20;
const DEVICES = 8;
const ACKS = 6;

/** The report that must win for a device: terminal beats PENDING, then the newest (ackDateTime, sequence). */
function winner(acks: AssetSyncAck[], deviceId: string): RegistrationStatus | undefined {
  let best: { status: RegistrationStatus; key: [number, number, number] } | undefined;
  for (const a of acks) {
    const d = a.devices.find((x) => x.deviceId === deviceId);
    if (!d) continue;
    const key: [number, number, number] = [
      isTerminal(d.registrationStatus) ? 1 : 0,
      Date.parse(a.ackDateTime),
      a.sequence,
    ];
    if (
      !best ||
      key[0] > best.key[0] ||
      (key[0] === best.key[0] && (key[1] > best.key[1] || (key[1] === best.key[1] && key[2] > best.key[2])))
    ) {
      best = { status: d.registrationStatus, key };
    }
  }
  return best?.status;
}

const statusArb = fc.constantFrom<RegistrationStatus>(
  'REGISTERED',
  'DEREGISTERED',
  'FAILED',
  'PENDING',
  'REGISTERED',
);
const roundArb = fc.record({
  actions: fc.array(fc.constantFrom('REGISTER' as const, 'DEREGISTER' as const), {
    minLength: DEVICES,
    maxLength: DEVICES,
  }),
  acks: fc.array(
    fc.record({
      devices: fc.subarray(ids(DEVICES), { minLength: 1 }),
      statuses: fc.array(statusArb, { minLength: DEVICES, maxLength: DEVICES }),
      final: fc.boolean(),
      minute: fc.integer({ min: 0, max: 3 }),
    }),
    { minLength: ACKS, maxLength: ACKS },
  ),
});

describe('acks racing for one sync request', () => {
  it(`sends exactly one consolidated ack and loses no update (${ROUNDS} rounds of ${ACKS} concurrent acks)`, async () => {
    const rounds = fc.sample(roundArb, { numRuns: ROUNDS, seed: 42 });
    let followUps = 0;
    for (const round of rounds) {
      const id = newSyncRequestId();
      const devices = ids(DEVICES).map((deviceId, i) => ({ id: deviceId, action: round.actions[i]! }));
      await recordSyncRequest(request(id, devices), {
        messageId: `req-${id}`,
        receivedAt: T0,
        deadline: DEADLINE,
      });
      const acks: AssetSyncAck[] = round.acks.map((a, i) => ({
        syncRequestId: id,
        ackType: 'SUCCESS',
        ackDateTime: `2026-12-01T14:0${a.minute}:00-08:00`,
        sequence: i + 1,
        // At least one final, so that consolidation always happens.
        final: a.final || i === ACKS - 1,
        devices: a.devices.map((deviceId) => ({
          deviceId,
          headEndSystem: 'H',
          nicId: 'N',
          registrationStatus: a.statuses[Number(deviceId.slice(1))]!,
        })),
      }));
      const d = dacs();
      await Promise.all(
        acks.map((a, i) => handleAck(a, ackContext(d.send, { messageId: `ack-${id}-${i}` }))),
      );

      expect(d.calls.filter((c) => c.key === id)).toHaveLength(1);
      expect(new Set(d.calls.map((c) => c.key)).size).toBe(d.calls.length);
      followUps += d.calls.length - 1;
      // What DACS ends up with equals the flags of the winning statuses.
      const expected = new Map(
        devices.map((dev) => [dev.id, flagFor(dev.action, winner(acks, dev.id)).flag]),
      );
      expect(d.flags()).toEqual(expected);
      const status = await getSyncRequestStatus(id);
      expect(new Map(status?.devices.map((x) => [x.deviceId, x.headEndRegistration]))).toEqual(expected);
      expect(status?.devices.map((x) => x.reportedStatus)).toEqual(
        devices.map((dev) => winner(acks, dev.id)),
      );
    }
    // Not an assertion on timing, just evidence the races produced late changes.
    console.info(`race: ${ROUNDS} rounds, ${followUps} follow-ups sent`);
  }, 120_000);
});
