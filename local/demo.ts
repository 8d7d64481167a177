/**
 * `npm run demo`: plays the four flows against the running local stack (`npm start`), as DACS would,
 * and prints what DERMS and DACS received. Exits non-zero when something is not as expected.
 *
 *   1. an asset sync of three devices; the third fails at the head end (DERMS `headEndFail` rule),
 *      so the consolidated ack says D1RE, D1RE, D1NR;
 *   2. an opt-out;
 *   3. an unavailability ADD, then its CANCEL.
 */
import { DEFAULT_PORTS } from '#local/constants.ts';
import { optionalNumber, optionalString } from '#shared/config/env.ts';
import { FLOWS, SUPPORT_ROUTES } from '#shared/flows/registry.ts';
import { sleep } from '#shared/time.ts';

const api = `http://127.0.0.1:${optionalNumber('LOCAL_API_PORT', DEFAULT_PORTS.api)}`;
const derms = `http://127.0.0.1:${optionalNumber('DERMS_SIM_PORT', DEFAULT_PORTS.derms)}`;
const dacs = `http://127.0.0.1:${optionalNumber('DACS_SIM_PORT', DEFAULT_PORTS.dacs)}`;
const secret = optionalString('LOCAL_CLIENT_SECRET', 'local-secret');
const timeoutMs = optionalNumber('DEMO_TIMEOUT_MS', 60_000);

interface SimCall {
  path: string;
  receivedAt: string;
  body: unknown;
  idempotencyKey: string | null;
}

class DemoFailure extends Error {}

const show = (value: unknown) => JSON.stringify(value, null, 2).replaceAll('\n', '\n    ');

async function token(clientId: string): Promise<string> {
  const response = await fetch(`${api}/oauth2/token`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  if (response.status !== 200) throw new DemoFailure(`token for ${clientId}: HTTP ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function post(path: string, bearer: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${api}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bearer}` },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  console.log(`  POST ${path} → ${response.status} ${JSON.stringify(answer)}`);
  if (response.status !== 202) throw new DemoFailure(`${path} answered ${response.status}, expected 202`);
  return answer;
}

async function calls(base: string, pathSuffix: string): Promise<SimCall[]> {
  const response = await fetch(`${base}/sim/calls?path=${encodeURIComponent(pathSuffix)}`);
  return (await response.json()) as SimCall[];
}

/** Waits until `pick` finds what it looks for in the calls, or fails after the timeout. */
async function waitFor<T>(what: string, look: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const found = await look();
    if (found !== undefined) return found;
    await sleep(250);
  }
  throw new DemoFailure(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const mentions = (call: SimCall, id: string) => JSON.stringify(call.body).includes(`"${id}"`);

/** What every step of one run shares: ids unique to the run, its devices and the callers' tokens. */
interface DemoRun {
  /** A suffix that makes this run's ids unique. */
  readonly run: string;
  /** An ISO time `offsetMs` after the start of the run. */
  readonly iso: (offsetMs?: number) => string;
  readonly devices: readonly string[];
  /** The device that fails at the head end. */
  readonly failing: string;
  readonly syncRequestId: string;
  readonly dacsToken: string;
  readonly supportToken: string;
}

async function main(): Promise<void> {
  const demo = await beginRun();
  const enrollment = await playAssetSync(demo);
  await checkSupportView(demo);
  const optOut = await playOptOut(demo);
  const windows = await playUnavailability(demo);
  await showWhatWasReceived(demo, [enrollment, optOut, ...windows]);
  console.log('\nDemo passed.');
}

async function beginRun(): Promise<DemoRun> {
  const run = Date.now().toString(36).toUpperCase().slice(-8);
  const now = new Date();
  const iso = (offsetMs = 0) => new Date(now.getTime() + offsetMs).toISOString();
  const [dacsToken, supportToken] = await Promise.all([token('dacs-local'), token('support-local')]);
  const devices = ['A', 'B', 'C'].map((letter) => `M${run}${letter}`);
  return { run, iso, devices, failing: devices[2]!, syncRequestId: `DEMO${run}`, dacsToken, supportToken };
}

/** Step 1: an ENROLL of three devices, the third failing at the head end; returns what DERMS received. */
async function playAssetSync(demo: DemoRun): Promise<SimCall> {
  const { devices, failing, syncRequestId } = demo;
  console.log(
    `\n1. Asset sync ${syncRequestId}: ENROLL of ${devices.join(', ')}; ${failing} fails at the head end`,
  );
  await failAtHeadEnd(failing);
  await post(FLOWS.assetSync.route.path, demo.dacsToken, enrollmentSync(demo));
  const enrollment = await waitFor('DERMS to receive the enrollment sync', async () =>
    (await calls(derms, FLOWS.assetSync.target.defaultPath)).find((c) => mentions(c, syncRequestId)),
  );
  console.log(`  DERMS received ${enrollment.path} (Idempotency-Key ${enrollment.idempotencyKey})`);
  const ack = await waitFor('the consolidated ack at DACS', async () =>
    (await calls(dacs, FLOWS.assetSyncAck.target.defaultPath)).find(
      (c) => (c.body as { syncRequestId?: string }).syncRequestId === syncRequestId,
    ),
  );
  console.log(`  DACS received the consolidated ack:\n    ${show(ack.body)}`);
  checkConsolidatedAck(ack, devices);
  return enrollment;
}

/** A DERMS simulator rule: the device's next registration fails at the head end. */
async function failAtHeadEnd(deviceId: string): Promise<void> {
  const rule = await fetch(`${derms}/sim/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      match: { deviceId },
      action: 'headEndFail',
      times: 1,
      message: 'LEC: device did not answer registration',
    }),
  });
  if (rule.status !== 201)
    throw new DemoFailure(`DERMS simulator refused the headEndFail rule: ${rule.status}`);
}

function enrollmentSync({ run, iso, devices, syncRequestId }: DemoRun) {
  return {
    sendDetails: { syncRequestId, sentDateTime: iso(), reason: 'ENROLL' },
    contactInfo: { contactId: `C${run}`, cisPersonId: `P${run}` },
    subscriptionInfo: {
      subscriptionId: `S${run}`,
      cisAccountId: `AC${run}`,
      programId: 'BYOT-2026',
      programCode: 'BYOT',
      subscriptionType: 'DR',
      status: 'ACTIVE',
      startDateTimeISO: iso(),
    },
    locationInfo: {
      division: 'NORTH',
      servicePointId: `SP${run}`,
      cisPremiseId: `PR${run}`,
      cisServicePointId: `CSP${run}`,
      controllableDevices: devices.map((deviceId, i) => ({
        deviceId,
        registrationAction: 'REGISTER',
        headEndSystem: 'LEC-THERMOSTATS',
        nicId: `NIC-${deviceId}`,
        networkAddress: `10.0.0.${i + 10}`,
        entityGroups: [{ entityGroupId: 'FEEDER-12', groupCategory: 'FEEDER' }],
        deviceType: 'THERMOSTAT',
      })),
    },
  };
}

/** The consolidated ack flags the two registered devices D1RE and the failed one D1NR, with hasError. */
function checkConsolidatedAck(ack: SimCall, devices: readonly string[]): void {
  const statuses = (ack.body as { deviceHeadendStatus: { deviceId: string; headEndRegistration: string }[] })
    .deviceHeadendStatus;
  const flags = devices.map((d) => statuses.find((s) => s.deviceId === d)?.headEndRegistration);
  console.log(`  Flags: ${flags.join(', ')}`);
  if (flags.join(',') !== 'D1RE,D1RE,D1NR')
    throw new DemoFailure(`expected D1RE, D1RE, D1NR, got ${flags.join(', ')}`);
  if ((ack.body as { hasError?: boolean }).hasError !== true) throw new DemoFailure('expected hasError true');
}

async function checkSupportView({ syncRequestId, supportToken }: DemoRun): Promise<void> {
  const statusPath = SUPPORT_ROUTES.syncRequest.path.replace('{syncRequestId}', syncRequestId);
  const status = await fetch(`${api}${statusPath}`, { headers: { Authorization: `Bearer ${supportToken}` } });
  console.log(`  GET ${statusPath} → ${status.status}`);
  if (status.status !== 200) throw new DemoFailure(`support view answered ${status.status}`);
}

/** Step 2: an opt-out of the first device; returns what DERMS received. */
async function playOptOut({ run, iso, devices, dacsToken }: DemoRun): Promise<SimCall> {
  const optOutId = `OPT-${run}`;
  console.log(`\n2. Opt-out ${optOutId} of ${devices[0]} from event EVT-${run}`);
  await post(FLOWS.optOut.route.path, dacsToken, {
    optOutId,
    eventExternalIdentifier: `EVT-${run}`,
    programId: 'BYOT-2026',
    subscriptionId: `S${run}`,
    deviceId: devices[0],
    headEndSystem: 'LEC-THERMOSTATS',
    nicId: `NIC-${devices[0]}`,
    requestedDateTime: iso(),
    channel: 'PHONE',
    eventStartDateTime: iso(3_600_000),
  });
  const optOut = await waitFor('DERMS to receive the opt-out', async () =>
    (await calls(derms, FLOWS.optOut.target.defaultPath)).find((c) => mentions(c, optOutId)),
  );
  console.log(`  DERMS received the reservation cancellation:\n    ${show(optOut.body)}`);
  return optOut;
}

/** Step 3: an unavailability ADD of the second device, then its CANCEL; returns what DERMS received. */
async function playUnavailability({ run, iso, devices, dacsToken }: DemoRun): Promise<SimCall[]> {
  const unavailabilityId = `UNV-${run}`;
  console.log(`\n3. Unavailability ${unavailabilityId} of ${devices[1]}: ADD, then CANCEL`);
  const device = { deviceId: devices[1], headEndSystem: 'LEC-THERMOSTATS', nicId: `NIC-${devices[1]}` };
  await post(FLOWS.unavailability.route.path, dacsToken, {
    unavailabilityId,
    action: 'ADD',
    updatedDateTime: iso(),
    ...device,
    startDateTime: iso(86_400_000),
    endDateTime: iso(2 * 86_400_000),
    reason: 'VACATION',
  });
  await post(FLOWS.unavailability.route.path, dacsToken, {
    unavailabilityId,
    action: 'CANCEL',
    updatedDateTime: iso(60_000),
    ...device,
  });
  const windows = await waitFor('DERMS to receive the ADD and the CANCEL', async () => {
    const found = (await calls(derms, FLOWS.unavailability.target.defaultPath)).filter((c) =>
      mentions(c, unavailabilityId),
    );
    return found.some((c) => JSON.stringify(c.body).includes('"CANCEL"')) ? found : undefined;
  });
  const actions = windows.map((c) => (c.body as { action?: string }).action ?? '?');
  console.log(`  DERMS received: ${actions.join(', ')}`);
  if (actions.join(',') !== 'ADD,CANCEL')
    throw new DemoFailure(`expected ADD then CANCEL, got ${actions.join(', ')}`);
  return windows;
}

/** The summary: every call DERMS received in this run, and the one ack DACS received. */
async function showWhatWasReceived({ syncRequestId, failing }: DemoRun, atDerms: readonly SimCall[]) {
  console.log('\nWhat DERMS received in this run:');
  for (const c of atDerms) console.log(`  ${c.receivedAt}  POST ${c.path}`);
  console.log('What DACS received in this run:');
  const dacsCalls = (await calls(dacs, '')).filter((c) => mentions(c, syncRequestId));
  for (const c of dacsCalls) {
    console.log(`  ${c.receivedAt}  POST ${c.path}  (Idempotency-Key ${c.idempotencyKey})`);
  }
  if (dacsCalls.length !== 1)
    throw new DemoFailure(`expected exactly one ack at DACS, got ${dacsCalls.length}`);
  const flag = await fetch(`${dacs}/sim/devices/${failing}`);
  console.log(`  DACS now holds for ${failing}: ${JSON.stringify(await flag.json())}`);
}

main().catch((error: unknown) => {
  if (error instanceof DemoFailure) console.error(`\nDemo failed: ${error.message}`);
  else if ((error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') {
    console.error(`\nDemo failed: nothing answers at ${api}. Start the stack first: npm start`);
  } else console.error('\nDemo failed:', error);
  process.exit(1);
});
