/**
 * Issue 8, item 4: crashes. While traffic flows through every route, function processes are SIGKILLed
 * three times (the local stack runs one per role, as AWS runs one Lambda function per function):
 * mid-batch every function process at once; during a 1,000-device sync request's acks and consolidation
 * the API's (the acks' ingest) and the assetSyncAck flow's (the consolidation); mid-batch again the
 * optOut, unavailability and legacyAck flows'. DynamoDB Local is stopped and restarted by the stack's supervisor, and legacy acks meet a DACS slower
 * than their function's timeout (a Lambda time-out). Requests made while DynamoDB is down get 503 with
 * Retry-After and nothing is accepted; once it is back, nothing accepted is lost and nothing applied twice.
 *
 * What a crash leaves in flight comes back after its queue's visibility timeout, six times the function
 * timeout: this file needs a stack started with short ones, `LOCAL_FUNCTION_TIMEOUT_SECONDS=15,legacyAck=2`
 * (90 s, and 12 s for the legacy acks, whose 2 s is below HTTP_TIMEOUT_MS so that a slow DACS times the
 * function out).
 */
import { createHash } from 'node:crypto';
import { FUNCTION_ROLES, type FunctionRole } from '#local/constants.ts';
import { localFunctionTimeoutSeconds } from '#local/lambda.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { canonicalJson, messageIdFor } from '#shared/handlers/ingest.ts';
import { dacsSim, dermsSim, waitFor } from '#test/e2e/helpers.ts';
import {
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
  dermsAcks,
  dermsAcksSent,
  dynamoDbDown,
  dynamoDbPid,
  type Installed,
  installFault,
  killFunctions,
  ledgerProblems,
  type Outbound,
  outbound,
  postOnce,
  type Reply,
  random,
  refusals,
  type SyncPlan,
  scaled,
  send,
  sendAll,
  sending,
  settle,
  simCalls,
  sleep,
  stackLogCount,
  stopDynamoDb,
  supportGet,
  supportSample,
  TARGET_PATH,
  type Unit,
  visibilityTimeouts,
} from './harness.ts';

const SEED = seed();
const rng = random(SEED + 100);
const RUN = `C${rng.tag(3)}`;
console.log(`reliability seed ${SEED} (replay: RELIABILITY_SEED=${SEED}); crash ids ${RUN}…`);

const CONCURRENCY = 10;
/** The longest a crash may leave a message in flight for this file to wait it out. */
const MAX_VISIBILITY_SECONDS = 120;
const TIMEOUT_LINE = /batch of \d+ failed: (TimeoutError|LambdaTimeoutError)/;

const n36 = (n: number) => n.toString(36).toUpperCase();
const minutes = (base: string, m: number) => new Date(Date.parse(base) + m * 60_000).toISOString();

afterAll(async () => {
  await dermsSim.clearFaults();
  await dacsSim.clearFaults();
});

interface Plan {
  units: Unit[];
  syncs: SyncPlan[];
  newest: Map<string, string>;
  faults: { kind: Installed['kind']; sim: 'DERMS' | 'DACS'; rule: Parameters<typeof installFault>[2] }[];
  slowLegacy: number;
}

function sync(plan: Plan, index: number, size: number, failures: number): Outbound {
  const syncRequestId = `SR${RUN}${n36(index)}`;
  const devices = Array.from({ length: size }, (_, i) =>
    controllableDevice({
      deviceId: `${RUN}S${n36(index)}-${n36(i)}`,
      nicId: `NIC-${RUN}-${index}-${i}`,
      networkAddress: `10.${index % 250}.${Math.floor(i / 250)}.${i % 250}`,
    }),
  );
  const deviceIds = devices.map((d) => d.deviceId);
  const failed = new Set(rng.shuffle(deviceIds).slice(0, failures));
  for (const deviceId of failed)
    plan.faults.push({
      sim: 'DERMS',
      kind: 'headEndFail',
      rule: { match: { deviceId }, action: 'headEndFail' },
    });
  plan.syncs.push({ syncRequestId, deviceIds, failed, refused: false });
  return outbound(
    'assetSync',
    assetSyncRequest({
      sendDetails: { syncRequestId, reason: 'ENROLL' },
      subscriptionInfo: { subscriptionId: `SUB-${RUN}-${index}` },
      locationInfo: { controllableDevices: devices },
    }),
  );
}

function crashTraffic(legacyTimeoutMs: number): Plan {
  const plan: Plan = { units: [], syncs: [], newest: new Map(), faults: [], slowLegacy: 0 };
  const big = sync(plan, 0, 1000, 2);
  const units: Unit[] = [];
  for (let i = 0; i < scaled(8, 2); i++)
    units.push({ messages: [sync(plan, i + 1, rng.int(1, 5), rng.chance(0.2) ? 1 : 0)] });
  for (let i = 0; i < scaled(160, 10); i++)
    units.push({
      messages: [
        outbound(
          'optOut',
          optOut({ optOutId: `OO-${RUN}-${i}`, deviceId: `${RUN}O${n36(i)}`, nicId: `NIC-${RUN}-O${i}` }),
        ),
      ],
    });
  for (let i = 0; i < scaled(40, 5); i++) {
    const unavailabilityId = `UA-${RUN}-${i}`;
    const count = rng.int(1, 3);
    const versions = Array.from({ length: count }, (_, v) =>
      outbound(
        'unavailability',
        unavailability({
          unavailabilityId,
          deviceId: `${RUN}U${n36(i)}`,
          action: v === 0 ? 'ADD' : 'UPDATE',
          updatedDateTime: minutes('2026-12-04T18:00:00Z', v),
          startDateTime: minutes('2026-12-10T08:00:00Z', v * 60),
          endDateTime: minutes('2026-12-17T08:00:00Z', v * 60),
        }),
      ),
    );
    plan.newest.set(unavailabilityId, minutes('2026-12-04T18:00:00Z', count - 1));
    units.push({ messages: rng.shuffle(versions) });
  }
  const slow = scaled(6, 2);
  for (let i = 0; i < scaled(80, 10); i++) {
    const message = outbound(
      'legacyAck',
      legacyAck({
        MsgAck: {
          ackType: 'SUCCESS',
          whenISO: new Date(Date.parse('2026-12-04T20:00:00Z') + i * 1000).toISOString(),
          responses: {
            response: [
              { responseCode: '0', dacsMessageId: `DM-${RUN}-${i}`, responseTimeISO: '2026-12-04T19:00:00Z' },
            ],
          },
        },
      }),
    );
    if (i < slow) {
      // DACS answers after the function's timeout: Lambda ends the invocation; the ack comes back.
      plan.faults.push({
        sim: 'DACS',
        kind: 'delay within the timeout',
        rule: {
          match: { path: TARGET_PATH.legacyAck, businessKey: message.key },
          action: 'delay',
          delayMs: legacyTimeoutMs + 600,
          times: 1,
        },
      });
      plan.slowLegacy++;
    }
    units.push({ messages: [message] });
  }
  plan.units = [{ messages: [big] }, ...rng.shuffle(units)];
  return plan;
}

/** A request made while DynamoDB Local was down, as sent and as answered. */
interface Probe {
  readonly message: Outbound;
  readonly reply: Reply;
}

/** The messageId the integration would give a message (flow, business key, body hash), to look it up. */
const messageIdOf = (m: Outbound) =>
  messageIdFor(m.flow, m.key, createHash('sha256').update(canonicalJson(m.body)).digest('hex'));

describe('crashes', () => {
  it('loses nothing and applies nothing twice through three crashes of function processes, a DynamoDB outage and Lambda time-outs', async () => {
    const visibility = await visibilityTimeouts();
    const longest = Math.max(...Object.values(visibility));
    const legacyTimeoutMs = localFunctionTimeoutSeconds('legacyAck', process.env) * 1000;
    if (longest > MAX_VISIBILITY_SECONDS || legacyTimeoutMs >= Number(process.env.HTTP_TIMEOUT_MS ?? 10_000))
      throw new Error(
        `The stack's queues keep a crashed message ${longest} s and the legacy ack function has ${legacyTimeoutMs} ms: ` +
          'run the suite with LOCAL_FUNCTION_TIMEOUT_SECONDS=15,legacyAck=2 (see this file’s header).',
      );
    const started = Date.now();
    const timeoutsBefore = stackLogCount(TIMEOUT_LINE);
    const plan = crashTraffic(legacyTimeoutMs);
    for (const f of plan.faults) await installFault(f.sim, f.kind, f.rule);
    const planned = plan.units.reduce((n, u) => n + u.messages.length, 0);
    const big = plan.syncs[0]!.syncRequestId;

    const out = sending();
    const crashes: string[] = [];
    const probes: Probe[] = [];
    let outage = { ms: 0, from: 0 };
    const progress = (share: number) =>
      waitFor(async () => out.accepted.length >= planned * share, 300_000, `${share * 100}% of the traffic`);
    // One crash at a time (each waits for the restarted processes), each of one or more processes at once.
    let killing = Promise.resolve();
    let processesKilled = 0;
    const kill = (roles: readonly FunctionRole[], what: () => string) => {
      killing = killing.then(async () => {
        await killFunctions(roles);
        processesKilled += roles.length;
        const which = roles.length === FUNCTION_ROLES.length ? 'every function process' : roles.join(' + ');
        crashes.push(`${which} ${what()}`);
      });
      return killing;
    };
    const soFar = () => `${out.accepted.length} of ${planned} messages accepted`;
    const traffic = (async () => {
      await progress(0.15);
      await kill(FUNCTION_ROLES, () => `mid-batch, ${soFar()}`);
      await progress(0.35);
      const before = dynamoDbPid()!;
      const stopped = await stopDynamoDb();
      outage.from = Date.now();
      for (let i = 0; dynamoDbDown(before); i++) {
        const message = outbound(
          'optOut',
          optOut({ optOutId: `OO-${RUN}-DDB${i}`, deviceId: `${RUN}P${n36(i)}` }),
        );
        probes.push({ message, reply: await postOnce(FLOWS.optOut.route.path, message.body, 'dacs-local') });
        await sleep(200);
      }
      await stopped.back();
      outage = { ...outage, ms: Date.now() - outage.from };
      await progress(0.6);
      await kill(['optOut', 'unavailability', 'legacyAck'], () => `mid-batch again, ${soFar()}`);
    })();
    // During the 1,000-device request's acks: its consolidation and follow-ups are under way.
    const consolidation = (async () => {
      const acksIn = await waitFor(
        async () => {
          const n = (await dermsAcksSent()).filter(
            (a) => a.ack.syncRequestId === big && a.status === 202,
          ).length;
          return n >= 2 ? n : undefined;
        },
        240_000,
        'the 1,000-device request to be acknowledged',
      ).catch(() => 0);
      await kill(
        ['api', 'assetSyncAck'],
        () => `during the 1,000-device request's acks (${acksIn} of them in), ${soFar()}`,
      );
    })();
    const chaos = Promise.all([traffic, consolidation]);
    await Promise.all([sendAll(plan.units, CONCURRENCY, out), chaos]);
    const sentAt = Date.now();

    // What DynamoDB's outage refused was not accepted: no trace, nothing delivered. DACS then sends it again.
    const refused503 = probes.filter((p) => p.reply.status === 503);
    const probeProblems: string[] = [];
    const delivered = new Set((await simCalls('DERMS', TARGET_PATH.optOut)).map((c) => c.idempotencyKey));
    for (const { message, reply } of probes) {
      if (reply.status === 202) {
        if (reply.body.messageId !== messageIdOf(message))
          probeProblems.push(`${message.key}: unexpected messageId`);
        out.accepted.push({ ...message, messageId: String(reply.body.messageId) });
        continue;
      }
      if (reply.status !== 503 || !reply.retryAfter)
        probeProblems.push(`${message.key}: ${reply.status}, Retry-After ${reply.retryAfter}`);
      if ((await supportGet(`/v1/messages/${messageIdOf(message)}`)).status !== 404)
        probeProblems.push(`${message.key}: answered ${reply.status}, yet traced`);
      if (delivered.has(message.key))
        probeProblems.push(`${message.key}: answered ${reply.status}, yet delivered`);
      const again = await send(message);
      if (again.status !== 202) probeProblems.push(`${message.key} sent again: ${again.status}`);
      else out.accepted.push({ ...message, messageId: String(again.body.messageId) });
    }

    const acks = await dermsAcks(plan.syncs, 300_000);
    const accepted: Accepted[] = [...out.accepted, ...acks];
    const traces = await settle(accepted, 300_000);
    const syncs = await checkSyncs(plan.syncs, 180_000);
    const ledger = await account(accepted, traces, new Set());
    const sample = supportSample(traces, random(SEED + 101), 0.1);
    const supportProblems = await checkSupportView(sample, traces);
    const order = await checkUnavailabilityOrder(
      { refused: new Set(), newest: plan.newest, overtaking: new Set() },
      out.accepted,
      traces,
    );
    const timeouts = stackLogCount(TIMEOUT_LINE) - timeoutsBefore;
    const flows = byFlow(accepted);

    recordFigures('crashes', {
      title: 'Crashes, a DynamoDB outage and Lambda time-outs',
      order: 40,
      figures: [
        {
          name: 'Messages accepted',
          value: Object.values(flows).reduce((a, b) => a + b, 0),
          note: JSON.stringify(flows),
        },
        {
          name: 'Crashes (function processes SIGKILLed at once)',
          value: crashes.length,
          note: crashes.join('; '),
        },
        {
          name: 'Function processes killed',
          value: processesKilled,
          note: `of ${FUNCTION_ROLES.length} (one per role: ${FUNCTION_ROLES.join(', ')})`,
        },
        {
          name: 'Queue visibility timeouts',
          value: `${Math.min(...Object.values(visibility))}–${longest} s`,
          note: 'how long a crash keeps a message in flight',
        },
        {
          name: 'Lambda time-outs',
          value: timeouts,
          note: `invocations ended at their timeout; ${plan.slowLegacy} legacy acks met a DACS slower than it`,
        },
        {
          name: 'DynamoDB Local outage',
          value: `${Math.round(outage.ms / 100) / 10} s`,
          note: 'stopped, restarted by the stack, data kept',
        },
        {
          name: 'Requests during the outage',
          value: probes.length,
          note: `${refused503.length} answered 503 with Retry-After, nothing accepted; each accepted when sent again`,
        },
        { name: 'Delivered', value: ledger.delivered },
        {
          name: 'Traces read through the support view',
          value: sample.length,
          note: 'a seeded tenth; each agrees with its trace',
        },
        { name: 'Superseded (older unavailability update)', value: ledger.superseded },
        { name: 'Dead-lettered', value: ledger.deadLettered, note: 'none refused in this scenario' },
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
        { name: "Callers' requests refused and retried", value: JSON.stringify(refusals) },
        { name: 'Time to send', value: `${Math.round((sentAt - started) / 1000)} s` },
        { name: 'Time to account', value: `${Math.round((Date.now() - started) / 1000)} s` },
      ],
    });

    expect([
      ...out.problems,
      ...probeProblems,
      ...supportProblems,
      ...ledgerProblems(ledger),
      ...syncs.problems,
      ...order.problems,
    ]).toEqual([]);
    expect(crashes).toHaveLength(3);
    expect(processesKilled).toBe(FUNCTION_ROLES.length + 2 + 3);
    expect(refused503.length).toBeGreaterThan(0);
    expect(ledger.lost).toHaveLength(0);
    expect(ledger.appliedTwice).toHaveLength(0);
    expect(syncs.consolidated).toBe(syncs.expected);
  }, 900_000);
});
