import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createDermsSimulator,
  DERMS_ROUTES,
  type DermsSimulator,
  enrollmentDevices,
  planAcks,
} from '#local/simulators/derms.ts';

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

describe('the DERMS simulator posting an ack', () => {
  let integration: Server;
  let derms: DermsSimulator;
  /** What the stub integration answers to each ack, in turn; 202 once they run out. */
  const answers: number[] = [];
  const tokensIssued: string[] = [];
  const authorizations: string[] = [];

  beforeAll(async () => {
    integration = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/oauth2/token') {
          tokensIssued.push(req.headers.authorization ?? '');
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ access_token: `t${tokensIssued.length}`, expires_in: 3600 }));
          return;
        }
        authorizations.push(req.headers.authorization ?? '');
        res.writeHead(answers.shift() ?? 202, { 'Content-Type': 'application/json' });
        res.end('{"answered":true}');
      });
    });
    await new Promise<void>((resolve) => integration.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(integration.address() as AddressInfo).port}`;
    derms = createDermsSimulator({
      ackUrl: `${url}/v1/derms/asset-sync-acks`,
      tokenUrl: `${url}/oauth2/token`,
      clientId: 'c',
      clientSecret: 's',
      ackDelayMs: 5,
    });
    await derms.listen(0);
  });
  afterAll(async () => {
    await derms.close();
    await new Promise((resolve) => integration.close(resolve));
  });

  it('retries after 401 with a new token and after 5xx, and records the final answer', async () => {
    answers.push(401, 503);
    const base = `http://127.0.0.1:${(derms.server.address() as AddressInfo).port}`;
    await fetch(`${base}${DERMS_ROUTES.enrollmentSync}`, {
      method: 'POST',
      body: JSON.stringify({ syncRequestId: 'SR-retry', devices: [] }),
    });
    while (derms.acksSent.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tokensIssued).toEqual([`Basic ${Buffer.from('c:s').toString('base64')}`, expect.any(String)]);
    expect(authorizations).toEqual(['Bearer t1', 'Bearer t2', 'Bearer t2']);
    expect(derms.acksSent).toEqual([
      {
        ack: expect.objectContaining({ syncRequestId: 'SR-retry', sequence: 1, final: true }),
        status: 202,
        answer: { answered: true },
      },
    ]);
    const listed = await (await fetch(`${base}/sim/acks`)).json();
    expect(listed).toEqual(JSON.parse(JSON.stringify(derms.acksSent)));
  });
});

describe('the DERMS simulator with repeated enrollment syncs', () => {
  let integration: Server;
  let derms: DermsSimulator;
  let base: string;
  /** The acks the simulator posted to the (stub) integration. */
  const acks: { syncRequestId: string; sequence: number; final: boolean }[] = [];
  const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  beforeAll(async () => {
    integration = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/oauth2/token') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ access_token: 't', expires_in: 3600 }));
          return;
        }
        acks.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(202, { 'Content-Type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => integration.listen(0, '127.0.0.1', resolve));
    derms = createDermsSimulator({
      ackUrl: `${urlOf(integration)}/v1/derms/asset-sync-acks`,
      tokenUrl: `${urlOf(integration)}/oauth2/token`,
      ackDelayMs: 5,
      ackChunkSize: 2,
    });
    await derms.listen(0);
    base = urlOf(derms.server);
  });
  afterAll(async () => {
    await derms.close();
    await new Promise((resolve) => integration.close(resolve));
  });
  beforeEach(async () => {
    acks.length = 0;
    await fetch(`${base}/sim/calls`, { method: 'DELETE' });
    await fetch(`${base}/sim/faults`, { method: 'DELETE' });
  });

  const sync = (syncRequestId: string) => ({
    dacsMessageId: syncRequestId,
    locationInfo: { controllableDevices: devices },
  });
  const deliver = (syncRequestId: string) =>
    fetch(`${base}/v1/enrollment-sync`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': syncRequestId },
      body: JSON.stringify(sync(syncRequestId)),
    });
  /** Waits until the acks stop coming (no new one for 200 ms). */
  const settled = async () => {
    let seen = -1;
    while (seen !== acks.length) {
      seen = acks.length;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  it('acknowledges a sync once, however often it is delivered, and records every delivery', async () => {
    const answers = [await deliver('SR-rep'), await deliver('SR-rep'), await deliver('SR-rep')];
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    await settled();
    // Three devices in chunks of two: two partial acks and the final one, sent once.
    expect(acks.map((a) => [a.syncRequestId, a.sequence, a.final])).toEqual([
      ['SR-rep', 1, false],
      ['SR-rep', 2, false],
      ['SR-rep', 3, true],
    ]);
    const calls = (await (await fetch(`${base}/sim/calls`)).json()) as { duplicate: boolean }[];
    expect(calls.map((c) => c.duplicate)).toEqual([false, true, true]);
  });

  it('never acknowledges a silent sync, and reports a headEndFail device as FAILED', async () => {
    const fault = (rule: unknown) =>
      fetch(`${base}/sim/faults`, { method: 'POST', body: JSON.stringify(rule) });
    await fault({ match: { syncRequestId: 'SR-silent' }, action: 'silent' });
    await fault({ match: { deviceId: 'D3' }, action: 'headEndFail', message: 'no answer' });
    expect((await deliver('SR-silent')).status).toBe(202);
    expect((await deliver('SR-fail')).status).toBe(202);
    await settled();
    expect(acks.map((a) => [a.syncRequestId, a.sequence, a.final])).toEqual([
      ['SR-fail', 1, false],
      ['SR-fail', 2, false],
      ['SR-fail', 3, true],
    ]);
    expect(acks[1]).toMatchObject({
      ackType: 'ERROR',
      devices: [{ deviceId: 'D3', registrationStatus: 'FAILED', message: 'no answer' }],
    });
    expect(acks[2]).toMatchObject({ ackType: 'ERROR', devices: [] });
  });

  it('acknowledges the delivery that follows a refused one', async () => {
    await fetch(`${base}/sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ match: { businessKey: 'SR-503' }, action: 'status', status: 503, times: 1 }),
    });
    expect((await deliver('SR-503')).status).toBe(503);
    expect((await deliver('SR-503')).status).toBe(202);
    await settled();
    expect(acks.filter((a) => a.final).map((a) => a.syncRequestId)).toEqual(['SR-503']);
    expect(acks).toHaveLength(3);
  });
});
