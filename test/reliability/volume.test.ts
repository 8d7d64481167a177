/**
 * Issue 8, items 1-3: downstream faults at volume, duplicates and races, order. Every scenario sends
 * real HTTP through the integration to the simulators and accounts for each message by its business
 * key, from the traces (`GET /v1/messages/{id}`) and the simulators' recorded calls.
 *
 * Seeded: every random choice comes from `RELIABILITY_SEED` (printed); `RELIABILITY_SCALE` scales the
 * message counts (the default meets the issue's minimum of 2,000 messages).
 */

import type { AssetSyncAck, AssetSyncRequest } from '#shared/contracts/types.ts';
import { ACK_PATH, dacsSim, dermsSim, waitFor } from '#test/e2e/helpers.ts';
import {
  ackDevice,
  assetSyncRequest,
  controllableDevice,
  legacyAck,
  optOut,
  unavailability,
} from '#test/helpers/messages.ts';
import { recordFigures, seed } from './figures.ts';
import {
  type Accepted,
  account,
  byFlow,
  checkSupportView,
  checkSyncs,
  checkUnavailabilityOrder,
  dacsAckCalls,
  dermsAcks,
  expectTwin,
  type FaultRule,
  faultsFired,
  type Installed,
  installFault,
  ledgerProblems,
  type Outbound,
  outbound,
  permanentFault,
  pool,
  type Random,
  random,
  refusals,
  type Sending,
  type SyncPlan,
  scaled,
  send,
  sendAll,
  sending,
  sendUnit,
  settle,
  simCalls,
  supportSample,
  TARGET_PATH,
  transientFault,
  type Unit,
} from './harness.ts';

const SEED = seed();
const rng = random(SEED);
// Ids unique to this run and file (the stack is shared by the suite's files); 12 characters at most.
const RUN = `V${rng.tag(3)}`;
console.log(`reliability seed ${SEED} (replay: RELIABILITY_SEED=${SEED}); volume ids ${RUN}…`);

/** Requests in flight at once, as DACS's and DERMS's senders would keep them. */
const CONCURRENCY = 12;
const TRANSIENT_SHARE = 0.25;
const REFUSED_SHARE = 0.02;

const n36 = (n: number) => n.toString(36).toUpperCase();
const minutes = (base: string, m: number) => new Date(Date.parse(base) + m * 60_000).toISOString();

afterAll(async () => {
  await dermsSim.clearFaults();
  await dacsSim.clearFaults();
});

// ── Building the traffic ────────────────────────────────────────────────────────────────────────────

interface Traffic {
  units: Unit[];
  syncs: (SyncPlan & { request: AssetSyncRequest })[];
  /** Business keys a receiver refuses for good (permanent 4xx). */
  refused: Set<string>;
  faults: { sim: 'DERMS' | 'DACS'; kind: Installed['kind']; rule: FaultRule }[];
  /** Unavailability: the newest updatedDateTime per id, and the ids whose CANCEL is sent before the ADD. */
  newest: Map<string, string>;
  overtaking: Set<string>;
  /** Messages sent again once everything was accepted, and variants of a sent message (409). */
  later: Outbound[];
  conflicts: Outbound[];
}

function faultFor(t: Traffic, sim: 'DERMS' | 'DACS', path: string, key: string, refusable = true) {
  const match = { path, businessKey: key };
  if (refusable && rng.chance(REFUSED_SHARE)) {
    t.refused.add(key);
    t.faults.push({ sim, kind: 'permanent 4xx', rule: permanentFault(rng, match) });
  } else if (rng.chance(TRANSIENT_SHARE)) {
    t.faults.push({ sim, ...transientFault(rng, match) });
  }
}

function syncPlan(t: Traffic, index: number, size: number, failures: number) {
  const syncRequestId = `SR${RUN}${n36(index)}`;
  const devices = Array.from({ length: size }, (_, i) =>
    controllableDevice({
      deviceId: `${RUN}S${n36(index)}-${n36(i)}`.slice(0, 12),
      nicId: `NIC-${RUN}-${index}-${i}`,
      networkAddress: `10.${index % 250}.${Math.floor(i / 250)}.${i % 250}`,
    }),
  );
  const deviceIds = devices.map((d) => d.deviceId);
  const failed = new Set(rng.shuffle(deviceIds).slice(0, failures));
  const request = assetSyncRequest({
    sendDetails: { syncRequestId, reason: 'ENROLL' },
    subscriptionInfo: { subscriptionId: `SUB-${RUN}-${index}` },
    locationInfo: { controllableDevices: devices },
  });
  for (const deviceId of failed)
    t.faults.push({ sim: 'DERMS', kind: 'headEndFail', rule: headEndFail(deviceId) });
  // The 1,000-device requests are never refused: their acks and consolidation are what they are for.
  faultFor(t, 'DERMS', TARGET_PATH.assetSync, syncRequestId, size < 100);
  const refused = t.refused.has(syncRequestId);
  // The consolidated ack meets DACS's faults too (transient only: its refusal is another scenario).
  if (rng.chance(TRANSIENT_SHARE))
    t.faults.push({ sim: 'DACS', ...transientFault(rng, { path: ACK_PATH, businessKey: syncRequestId }) });
  t.syncs.push({ syncRequestId, deviceIds, failed, refused, request });
  return outbound('assetSync', request);
}

const headEndFail = (deviceId: string): FaultRule => ({ match: { deviceId }, action: 'headEndFail' });

/** Versions of one unavailability: ADD, UPDATEs, maybe a CANCEL; sent in a shuffled order. */
function unavailabilityUnit(t: Traffic, index: number): Unit {
  const unavailabilityId = `UA-${RUN}-${index}`;
  const deviceId = `${RUN}U${n36(index)}`;
  const count = rng.int(1, 5);
  const cancels = count > 1 && rng.chance(0.4);
  const base = '2026-12-02T18:00:00.000Z';
  const versions = Array.from({ length: count }, (_, v) => {
    const action = v === 0 ? 'ADD' : cancels && v === count - 1 ? 'CANCEL' : 'UPDATE';
    const window =
      action === 'CANCEL'
        ? { startDateTime: undefined, endDateTime: undefined }
        : {
            startDateTime: minutes('2026-12-10T08:00:00Z', v * 60),
            endDateTime: minutes('2026-12-17T08:00:00Z', v * 60),
          };
    return outbound(
      'unavailability',
      unavailability({ unavailabilityId, deviceId, action, updatedDateTime: minutes(base, v), ...window }),
    );
  });
  const newest = versions.at(-1)!;
  t.newest.set(unavailabilityId, (newest.body as { updatedDateTime: string }).updatedDateTime);
  for (const version of versions)
    faultFor(t, 'DERMS', TARGET_PATH.unavailability, version.key, version !== newest);
  let order = rng.shuffle(versions);
  if (cancels && rng.chance(0.5)) {
    // The CANCEL overtakes its ADD for sure: sent first.
    order = [newest, ...order.filter((v) => v !== newest)];
  }
  const add = versions[0]!;
  if (cancels && order.indexOf(newest) < order.indexOf(add)) t.overtaking.add(unavailabilityId);
  return { messages: order };
}

function volumeTraffic(): Traffic {
  const t: Traffic = {
    units: [],
    syncs: [],
    refused: new Set(),
    faults: [],
    newest: new Map(),
    overtaking: new Set(),
    later: [],
    conflicts: [],
  };
  const bigSyncs = [syncPlan(t, 0, 1000, 3)];
  const singles: Unit[] = [];
  for (let i = 0; i < scaled(48, 4); i++)
    singles.push({ messages: [syncPlan(t, i + 2, rng.int(1, 6), rng.chance(0.15) ? 1 : 0)] });
  for (let i = 0; i < scaled(950, 10); i++) {
    const message = outbound(
      'optOut',
      optOut({
        optOutId: `OO-${RUN}-${i}`,
        deviceId: `${RUN}O${n36(i)}`,
        nicId: `NIC-${RUN}-O${i}`,
        eventExternalIdentifier: `EVT-${RUN}-${i % 25}`,
        channel: rng.pick(['PHONE', 'EMAIL', 'OTHER'] as const),
      }),
    );
    faultFor(t, 'DERMS', TARGET_PATH.optOut, message.key);
    singles.push({ messages: [message] });
  }
  for (let i = 0; i < scaled(400, 10); i++) {
    const message = outbound(
      'legacyAck',
      legacyAck({
        MsgAck: {
          ackType: rng.pick(['SUCCESS', 'SUCCESS', 'ERROR', 'FAILURE'] as const),
          whenISO: new Date(Date.parse('2026-12-01T20:00:00Z') + i * 1000).toISOString(),
          responses: {
            response: [
              { responseCode: '0', dacsMessageId: `DM-${RUN}-${i}`, responseTimeISO: '2026-12-01T19:59:59Z' },
            ],
          },
        },
      }),
    );
    faultFor(t, 'DACS', TARGET_PATH.legacyAck, message.key);
    singles.push({ messages: [message] });
  }
  for (let i = 0; i < scaled(170, 5); i++) singles.push(unavailabilityUnit(t, i));

  // Repeats: some single messages sent twice at once, some again once all were accepted; a few
  // conflicting variants (same key, another body).
  const units = singles.map((unit) => {
    const [only] = unit.messages;
    if (unit.messages.length !== 1 || only === undefined || only.flow === 'assetSync') return unit;
    if (rng.chance(0.05)) return { ...unit, twin: true };
    if (rng.chance(0.05)) t.later.push(only);
    return unit;
  });
  for (const unit of rng.shuffle(singles).slice(0, 12)) {
    const original = unit.messages[0]!;
    if (original.flow === 'optOut')
      t.conflicts.push(outbound('optOut', { ...(original.body as object), reason: 'changed its mind' }));
    if (original.flow === 'legacyAck') {
      const body = structuredClone(original.body) as {
        MsgAck: { responses: { response: { responseCode: string }[] } };
      };
      body.MsgAck.responses.response[0]!.responseCode = '99';
      t.conflicts.push(outbound('legacyAck', body));
    }
  }
  // The 1,000-device request goes first, so its acks meet the rest of the traffic.
  t.units = [...bigSyncs.map((m) => ({ messages: [m] })), ...rng.shuffle(units)];
  // Whole-route bursts: the next calls on a route fail whatever their key (follow-ups included).
  t.faults.push({
    sim: 'DACS',
    kind: '503',
    rule: { match: { path: ACK_PATH }, action: 'status', status: 503, times: 8 },
  });
  t.faults.push({
    sim: 'DERMS',
    kind: '500',
    rule: { match: { path: TARGET_PATH.optOut }, action: 'status', status: 500, times: 10 },
  });
  return t;
}

// ── Repeats ─────────────────────────────────────────────────────────────────────────────────────────

/** Sends messages again (each must be a 202 duplicate of the first) or with another body (each a 409). */
async function sendRepeats(t: Traffic, sent: Sending): Promise<{ repeated: number; conflicted: number }> {
  const ids = new Map(sent.accepted.map((m) => [`${m.flow} ${m.key}`, m.messageId]));
  const run = pool(CONCURRENCY);
  await Promise.all([
    ...t.later.map((message) =>
      run(async () => {
        const reply = await send(message);
        const first = ids.get(`${message.flow} ${message.key}`);
        if (reply.status !== 202 || reply.body.duplicate !== true || reply.body.messageId !== first)
          sent.problems.push(`repeat of ${message.key}: ${reply.status} ${JSON.stringify(reply.body)}`);
      }),
    ),
    ...t.conflicts.map((message) =>
      run(async () => {
        const reply = await send(message);
        if (reply.status !== 409) sent.problems.push(`conflicting ${message.key}: ${reply.status}, not 409`);
      }),
    ),
  ]);
  return { repeated: t.later.length, conflicted: t.conflicts.length };
}

// ── 1. Faults at volume (with 3. the order of unavailability updates) ───────────────────────────────

describe('downstream faults at volume', () => {
  it('accounts for every accepted message: delivered, or dead-lettered with its reason when refused for good; none lost, none applied twice', async () => {
    const started = Date.now();
    const t = volumeTraffic();
    const installed: Installed[] = [];
    for (const f of t.faults) installed.push(await installFault(f.sim, f.kind, f.rule));

    const sent = await sendAll(t.units, CONCURRENCY);
    const repeats = await sendRepeats(t, sent);
    const sentAt = Date.now();
    const acks = await dermsAcks(t.syncs, 240_000);
    const accepted = [...sent.accepted, ...acks];
    const traces = await settle(accepted, 240_000);
    const syncs = await checkSyncs(t.syncs, 120_000);
    const ledger = await account(accepted, traces, t.refused);
    const sample = supportSample(traces, random(SEED + 3), 0.05);
    const supportProblems = await checkSupportView(sample, traces);
    const order = await checkUnavailabilityOrder(t, sent.accepted, traces);
    const fired = await faultsFired(installed);
    const flows = byFlow(accepted);
    const total = Object.values(flows).reduce((a, b) => a + b, 0);

    recordFigures('volume', {
      title: 'Downstream faults at volume',
      order: 10,
      figures: [
        { name: 'Messages accepted', value: total, note: 'unique messages, all five inbound routes' },
        ...Object.entries(flows).map(([flow, n]) => ({
          name: `… ${flow}`,
          value: n,
          note: flow === 'assetSyncAck' ? 'sent by the DERMS simulator' : '',
        })),
        {
          name: 'Devices in asset syncs',
          value: t.syncs.reduce((n, s) => n + s.deviceIds.length, 0),
          note: `largest request ${Math.max(...t.syncs.map((s) => s.deviceIds.length))} devices`,
        },
        ...Object.entries(fired).map(([kind, n]) => ({
          name: `Faults injected: ${kind}`,
          value: n,
          note: 'calls the simulators answered so',
        })),
        {
          name: 'Duplicates sent',
          value: sent.duplicatesSent + repeats.repeated,
          note: `${sent.duplicatesSent} at the same instant, ${repeats.repeated} later`,
        },
        { name: 'Conflicting duplicates (409)', value: repeats.conflicted },
        { name: 'Delivered', value: ledger.delivered },
        {
          name: 'Dead-lettered with a reason',
          value: ledger.deadLetteredWithReason,
          note: `of ${ledger.deadLettered}; ${t.refused.size} business keys refused for good`,
        },
        {
          name: 'Traces read through the support view',
          value: sample.length,
          note: 'every dead letter and a seeded 5 % of the rest; each agrees with its trace',
        },
        { name: 'Superseded (older unavailability update)', value: ledger.superseded },
        { name: 'Lost', value: ledger.lost.length, note: 'must be 0' },
        { name: 'Applied twice', value: ledger.appliedTwice.length, note: 'must be 0' },
        {
          name: 'Redundant deliveries',
          value: ledger.redundant + syncs.redundant,
          note: `repeats the receivers dropped by Idempotency-Key (${syncs.redundant} of them acks to DACS)`,
        },
        {
          name: 'Consolidated acks',
          value: `${syncs.consolidated} of ${syncs.expected}`,
          note: 'exactly one per sync request',
        },
        { name: 'Follow-up acks', value: syncs.followUps, note: 'each changed a flag DACS held' },
        {
          name: "Callers' requests refused and retried",
          value: JSON.stringify(refusals),
          note: '429 throttled, 503 nothing accepted',
        },
        { name: 'Time to send', value: `${Math.round((sentAt - started) / 1000)} s` },
        { name: 'Time to account', value: `${Math.round((Date.now() - started) / 1000)} s` },
      ],
    });
    recordFigures('order', {
      title: 'Order',
      order: 30,
      figures: [
        {
          name: 'Unavailability ids, updates shuffled',
          value: order.ids,
          note: 'DERMS ends with the newest version of each',
        },
        { name: 'CANCELs sent before their ADD', value: order.overtaking },
        { name: 'ADDs superseded by the CANCEL that overtook them', value: order.addsOvertaken },
      ],
    });

    const problems = [
      ...sent.problems,
      ...ledgerProblems(ledger),
      ...supportProblems,
      ...syncs.problems,
      ...order.problems,
    ];
    expect(problems).toEqual([]);
    expect(ledger.lost).toHaveLength(0);
    expect(ledger.appliedTwice).toHaveLength(0);
    expect(ledger.deadLetteredWithReason).toBe(ledger.deadLettered);
    expect(syncs.consolidated).toBe(syncs.expected);
    if (Number(process.env.RELIABILITY_SCALE ?? '1') >= 1) expect(total).toBeGreaterThanOrEqual(2000);
  }, 900_000);
});

// ── 2. Duplicates and races ─────────────────────────────────────────────────────────────────────────

/** A sync whose DERMS stays silent: the test plays DERMS, with acks that race each other. */
function racingSync(r: Random, index: number) {
  const size = r.int(3, 8);
  const syncRequestId = `SR${RUN}R${n36(index)}`;
  const devices = Array.from({ length: size }, (_, i) =>
    controllableDevice({
      deviceId: `${RUN}R${n36(index)}-${i}`,
      nicId: `NIC-R-${i}`,
      networkAddress: `10.9.${index}.${i}`,
    }),
  );
  const failed = new Set(r.chance(0.4) ? [devices[r.int(0, size - 1)]!.deviceId] : []);
  const status = (deviceId: string) => (failed.has(deviceId) ? 'FAILED' : 'REGISTERED');
  // Partial acks of one device or two, some saying PENDING first, and a final one with the rest.
  const ids = r.shuffle(devices.map((d) => d.deviceId));
  const acks: AssetSyncAck[] = [];
  let i = 0;
  while (i < ids.length - 1) {
    const chunk = ids.slice(i, i + r.int(1, 2));
    i += chunk.length;
    acks.push({
      syncRequestId,
      ackType: chunk.some((d) => failed.has(d)) ? 'ERROR' : 'SUCCESS',
      ackDateTime: new Date(Date.parse('2026-12-01T22:00:00Z') + acks.length * 1000).toISOString(),
      sequence: acks.length + 1,
      final: false,
      devices: chunk.map((deviceId) =>
        ackDevice({ deviceId, registrationStatus: r.chance(0.2) ? 'PENDING' : status(deviceId) }),
      ),
    });
  }
  // The final ack carries every device not yet terminal, and any reported PENDING before.
  const pending = acks.flatMap((a) =>
    a.devices.filter((d) => d.registrationStatus === 'PENDING').map((d) => d.deviceId),
  );
  acks.push({
    syncRequestId,
    ackType: failed.size > 0 ? 'ERROR' : 'SUCCESS',
    ackDateTime: new Date(Date.parse('2026-12-01T22:10:00Z')).toISOString(),
    sequence: acks.length + 1,
    final: true,
    devices: [...ids.slice(i), ...pending].map((deviceId) =>
      ackDevice({ deviceId, registrationStatus: status(deviceId) }),
    ),
  });
  const request = assetSyncRequest({
    sendDetails: { syncRequestId, reason: 'ENROLL' },
    subscriptionInfo: { subscriptionId: `SUB-${RUN}-R${index}` },
    locationInfo: { controllableDevices: devices },
  });
  return {
    plan: { syncRequestId, deviceIds: devices.map((d) => d.deviceId), failed, refused: false },
    request,
    acks,
  };
}

describe('duplicates and races', () => {
  it('delivers every message once though each is sent twice at once and again later; a conflicting duplicate is a 409', async () => {
    const r = random(SEED + 1);
    const messages: Outbound[] = [];
    for (let i = 0; i < scaled(25, 3); i++) {
      messages.push(
        outbound('optOut', optOut({ optOutId: `OO-${RUN}-D${i}`, deviceId: `${RUN}D${n36(i)}` })),
      );
      messages.push(
        outbound(
          'unavailability',
          unavailability({
            unavailabilityId: `UA-${RUN}-D${i}`,
            deviceId: `${RUN}E${n36(i)}`,
            updatedDateTime: minutes('2026-12-03T10:00:00Z', i),
          }),
        ),
      );
      messages.push(
        outbound(
          'legacyAck',
          legacyAck({
            MsgAck: {
              ackType: 'SUCCESS',
              whenISO: minutes('2026-12-03T10:00:00Z', i),
              responses: {
                response: [
                  {
                    responseCode: '0',
                    dacsMessageId: `DM-${RUN}-D${i}`,
                    responseTimeISO: '2026-12-03T09:00:00Z',
                  },
                ],
              },
            },
          }),
        ),
      );
    }
    const syncs = Array.from({ length: scaled(4, 2) }, (_, i) => {
      const size = r.int(2, 5);
      const devices = Array.from({ length: size }, (_, k) =>
        controllableDevice({
          deviceId: `${RUN}F${n36(i)}-${k}`,
          nicId: `N${k}`,
          networkAddress: `10.8.${i}.${k}`,
        }),
      );
      const syncRequestId = `SR${RUN}D${n36(i)}`;
      return {
        plan: {
          syncRequestId,
          deviceIds: devices.map((d) => d.deviceId),
          failed: new Set<string>(),
          refused: false,
        },
        message: outbound(
          'assetSync',
          assetSyncRequest({
            sendDetails: { syncRequestId },
            subscriptionInfo: { subscriptionId: `SUB-${RUN}-D${i}` },
            locationInfo: { controllableDevices: devices },
          }),
        ),
      };
    });
    messages.push(...syncs.map((s) => s.message));
    const out = sending();
    const run = pool(CONCURRENCY);
    await Promise.all(
      r.shuffle(messages).map((message) => run(() => sendUnit({ messages: [message], twin: true }, out))),
    );
    const traces = await settle(out.accepted, 120_000);
    // Again, once delivered: answered as the first, nothing sent.
    const again = await Promise.all(messages.map((message) => run(() => send(message))));
    again.forEach((reply, i) => {
      if (reply.status !== 202 || reply.body.duplicate !== true)
        out.problems.push(
          `later repeat of ${messages[i]!.key}: ${reply.status} ${JSON.stringify(reply.body)}`,
        );
    });
    const conflicts = [
      outbound('optOut', { ...(messages[0]!.body as object), reason: 'another reason' }),
      outbound('unavailability', { ...(messages[1]!.body as object), endDateTime: '2026-12-31T00:00:00Z' }),
      outbound('legacyAck', {
        MsgAck: { ...(messages[2]!.body as { MsgAck: object }).MsgAck, ackType: 'FAILURE' },
      }),
    ];
    for (const message of conflicts) {
      const reply = await send(message);
      if (reply.status !== 409) out.problems.push(`conflicting ${message.key}: ${reply.status}`);
    }
    const acks = await dermsAcks(
      syncs.map((s) => s.plan),
      120_000,
    );
    await settle(acks, 120_000);
    const ledger = await account(out.accepted, traces, new Set());
    const verdict = await checkSyncs(
      syncs.map((s) => s.plan),
      60_000,
    );

    // ── acks racing one another, partial acks racing the final one ──
    const racing = Array.from({ length: scaled(8, 3) }, (_, i) => racingSync(r, i));
    for (const s of racing)
      await dermsSim.fault({ match: { syncRequestId: s.plan.syncRequestId }, action: 'silent' });
    await Promise.all(racing.map((s) => send(outbound('assetSync', s.request))));
    await waitFor(
      async () => {
        const got = new Set((await simCalls('DERMS', TARGET_PATH.assetSync)).map((c) => c.idempotencyKey));
        return racing.every((s) => got.has(s.plan.syncRequestId));
      },
      120_000,
      'DERMS to receive the racing syncs',
    );
    const raced: Accepted[] = [];
    let racedAcks = 0;
    await Promise.all(
      racing.flatMap((s) =>
        s.acks.map(async (ack) => {
          racedAcks++;
          const message = outbound('assetSyncAck', ack);
          const [a, b] = await Promise.all([send(message), send(message)]);
          expectTwin(message, a, b, out);
          if (a.status === 202) raced.push({ ...message, messageId: String(a.body.messageId) });
        }),
      ),
    );
    const racedTraces = await settle(raced, 120_000);
    const raceLedger = await account(raced, racedTraces, new Set());
    const raceVerdict = await checkSyncs(
      racing.map((s) => s.plan),
      60_000,
    );

    recordFigures('duplicates', {
      title: 'Duplicates and races',
      order: 20,
      figures: [
        { name: 'Messages, each sent twice at once and again later', value: messages.length },
        {
          name: 'Duplicates sent',
          value: out.duplicatesSent + messages.length,
          note: 'answered 202 duplicate: true (or 503 while in flight, then duplicate: true)',
        },
        { name: 'Conflicting duplicates', value: conflicts.length, note: 'each answered 409' },
        { name: 'Delivered', value: ledger.delivered + raceLedger.delivered },
        {
          name: 'Applied twice',
          value: ledger.appliedTwice.length + raceLedger.appliedTwice.length,
          note: 'must be 0',
        },
        { name: 'Redundant deliveries', value: ledger.redundant, note: 'repeats that reached a receiver' },
        {
          name: 'Sync requests with racing acks',
          value: racing.length,
          note: `${racedAcks} acks, each posted twice at once, partial acks racing the final one`,
        },
        {
          name: 'Consolidated acks',
          value: `${raceVerdict.consolidated + verdict.consolidated} of ${raceVerdict.expected + verdict.expected}`,
        },
        {
          name: 'Follow-up acks',
          value: raceVerdict.followUps + verdict.followUps,
          note: 'each changed a flag DACS held',
        },
      ],
    });
    expect([
      ...out.problems,
      ...ledgerProblems(ledger),
      ...ledgerProblems(raceLedger),
      ...verdict.problems,
      ...raceVerdict.problems,
    ]).toEqual([]);
    expect(ledger.redundant).toBe(0);
    expect(raceVerdict.consolidated).toBe(racing.length);
  }, 600_000);
});

// ── 3. Order: an ack that overtakes its own sync request ────────────────────────────────────────────

describe('order', () => {
  it('correlates an ack that overtakes its own sync request', async () => {
    const r = random(SEED + 2);
    const overtaken = Array.from({ length: scaled(4, 2) }, (_, i) => racingSync(r, 100 + i));
    for (const s of overtaken)
      await dermsSim.fault({ match: { syncRequestId: s.plan.syncRequestId }, action: 'silent' });
    const accepted: Accepted[] = [];
    await Promise.all(
      overtaken.map(async (s) => {
        // Every ack first (each waiting for its 202), then the request they acknowledge.
        for (const ack of s.acks) {
          const message = outbound('assetSyncAck', ack);
          const reply = await send(message);
          accepted.push({ ...message, messageId: String(reply.body.messageId) });
        }
        const reply = await send(outbound('assetSync', s.request));
        accepted.push({ ...outbound('assetSync', s.request), messageId: String(reply.body.messageId) });
      }),
    );
    const traces = await settle(accepted, 120_000);
    const ledger = await account(accepted, traces, new Set());
    const verdict = await checkSyncs(
      overtaken.map((s) => s.plan),
      60_000,
    );
    const calls = await dacsAckCalls();
    const uncorrelated = calls.filter(
      (c) =>
        overtaken.some(
          (s) => (c.body as { syncRequestId?: string }).syncRequestId === s.plan.syncRequestId,
        ) &&
        (c.body as { exceptionInfo?: { messageNumber: number }[] }).exceptionInfo?.some(
          (e) => e.messageNumber === 1003,
        ),
    );
    recordFigures('order-acks', {
      title: 'Order: acks before their request',
      order: 31,
      figures: [
        { name: 'Sync requests whose acks all came first', value: overtaken.length },
        { name: 'Consolidated acks, correlated', value: `${verdict.consolidated} of ${verdict.expected}` },
        { name: 'Forwarded as uncorrelated', value: uncorrelated.length, note: 'must be 0' },
      ],
    });
    expect([...ledgerProblems(ledger), ...verdict.problems]).toEqual([]);
    expect(uncorrelated).toHaveLength(0);
  }, 300_000);
});
