import type { AddressInfo } from 'node:net';
import {
  callFacts,
  createSimulator,
  decideFaults,
  deviceIdsOf,
  type FaultRule,
  parseFaultRule,
  ruleMatches,
  type Simulator,
  syncRequestIdOf,
} from '#local/simulators/core.ts';

const enrollment = {
  dacsMessageId: 'SR-1',
  locationInfo: { controllableDevices: [{ deviceId: 'D1' }, { deviceId: 'D2' }] },
};

describe('call facts', () => {
  it('finds the sync request id wherever the mapping put it', () => {
    expect(syncRequestIdOf({ syncRequestId: 'A' })).toBe('A');
    expect(syncRequestIdOf({ dacsMessageId: 'B' })).toBe('B');
    expect(syncRequestIdOf({ sendDetails: { syncRequestId: 'C' } })).toBe('C');
    expect(syncRequestIdOf('text')).toBeUndefined();
  });

  it('finds every deviceId anywhere in the body', () => {
    expect(deviceIdsOf(enrollment)).toEqual(['D1', 'D2']);
    expect(deviceIdsOf({ device: { deviceId: 'D9' } })).toEqual(['D9']);
    expect(deviceIdsOf({ deviceHeadendStatus: [{ deviceId: 'D3' }] })).toEqual(['D3']);
  });
});

describe('ruleMatches', () => {
  const facts = callFacts('/v1/enrollment-sync', enrollment, 'SR-1');
  it('matches on every field the rule names', () => {
    expect(ruleMatches({}, facts)).toBe(true);
    expect(ruleMatches({ path: '/enrollment-sync' }, facts)).toBe(true);
    expect(ruleMatches({ path: '/event-opt-outs' }, facts)).toBe(false);
    expect(ruleMatches({ syncRequestId: 'SR-1', deviceId: 'D2' }, facts)).toBe(true);
    expect(ruleMatches({ syncRequestId: 'SR-1', deviceId: 'D3' }, facts)).toBe(false);
    expect(ruleMatches({ businessKey: 'SR-1' }, facts)).toBe(true);
    expect(ruleMatches({ businessKey: 'other' }, facts)).toBe(false);
  });
});

describe('decideFaults', () => {
  const facts = callFacts('/v1/enrollment-sync', enrollment, 'SR-1');
  const rule = (r: Partial<FaultRule>): FaultRule =>
    ({ id: 'x', match: {}, action: 'status', ...r }) as FaultRule;

  it('answers with the first status rule and counts its firings down', () => {
    const rules = [rule({ action: 'status', status: 503, retryAfterSeconds: 2, remaining: 1 })];
    expect(decideFaults(rules, facts).status).toEqual({ status: 503, retryAfterSeconds: 2 });
    expect(decideFaults(rules, facts).status).toBeUndefined();
  });

  it('adds delays up, then lets a later status or reset end the call', () => {
    const rules = [
      rule({ action: 'delay', delayMs: 100 }),
      rule({ action: 'delay', delayMs: 50 }),
      rule({ action: 'reset' }),
    ];
    expect(decideFaults(rules, facts)).toMatchObject({ delayMs: 150, reset: true });
  });

  it('marks silent and head-end failures without ending the call', () => {
    const rules = [
      rule({ action: 'silent', match: { syncRequestId: 'SR-1' } }),
      rule({ action: 'headEndFail', match: { deviceId: 'D2' }, message: 'no answer' }),
      rule({ action: 'headEndFail', match: { deviceId: 'D7' } }),
    ];
    const decision = decideFaults(rules, facts);
    expect(decision.silent).toBe(true);
    expect(decision.status).toBeUndefined();
    expect([...decision.failedDevices]).toEqual([['D2', 'no answer']]);
  });

  it('ignores rules that do not match', () => {
    expect(decideFaults([rule({ match: { path: '/other' }, status: 500 })], facts).status).toBeUndefined();
  });
});

describe('parseFaultRule', () => {
  it('accepts a contract rule', () => {
    expect(
      parseFaultRule({ match: { path: '/x' }, action: 'status', status: 429, times: 2 }, ['status'], 'id1'),
    ).toEqual({
      rule: { id: 'id1', match: { path: '/x' }, action: 'status', status: 429, remaining: 2 },
    });
  });

  it('lists every reason a rule is refused', () => {
    const result = parseFaultRule({ match: { nope: 1 }, action: 'explode', times: 0 }, ['status']);
    expect('errors' in result && result.errors.length).toBeGreaterThanOrEqual(3);
    expect(parseFaultRule({ action: 'status' }, ['status'])).toHaveProperty('errors');
    expect(parseFaultRule({ action: 'headEndFail' }, ['headEndFail'])).toHaveProperty('errors');
  });
});

describe('createSimulator', () => {
  let sim: Simulator;
  let base: string;
  beforeAll(async () => {
    sim = createSimulator({
      name: 'TEST',
      actions: ['status', 'delay', 'reset', 'silent'],
      routes: {
        '/v1/thing': () => ({ status: 202, body: { ok: true } }),
        '/v1/other': () => ({ status: 200 }),
      },
    });
    await sim.listen(0);
    base = `http://127.0.0.1:${(sim.server.address() as AddressInfo).port}`;
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    await fetch(`${base}/sim/calls`, { method: 'DELETE' });
    await fetch(`${base}/sim/faults`, { method: 'DELETE' });
  });

  const post = (path: string, body: unknown, key = 'K1') =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key, 'X-Correlation-Id': 'C1' },
      body: JSON.stringify(body),
    });
  const calls = async (suffix?: string) =>
    (await (await fetch(`${base}/sim/calls${suffix ? `?path=${suffix}` : ''}`)).json()) as Record<
      string,
      unknown
    >[];

  it('records calls with their keys and counts deliveries per Idempotency-Key', async () => {
    expect((await post('/v1/thing', { a: 1 })).status).toBe(202);
    await post('/v1/thing', { a: 1 });
    await post('/v1/other', { b: 2 }, 'K2');
    const all = await calls();
    expect(all.map((c) => [c.path, c.idempotencyKey, c.correlationId, c.delivery])).toEqual([
      ['/v1/thing', 'K1', 'C1', 1],
      ['/v1/thing', 'K1', 'C1', 2],
      ['/v1/other', 'K2', 'C1', 1],
    ]);
    expect(all[0]).toMatchObject({ body: { a: 1 }, receivedAt: expect.any(String) });
    expect((await calls('/other')).length).toBe(1);
  });

  it('answers a status rule with Retry-After, does not record it, and stops after times', async () => {
    const added = await fetch(`${base}/sim/faults`, {
      method: 'POST',
      body: JSON.stringify({
        match: { path: '/thing' },
        action: 'status',
        status: 503,
        retryAfterSeconds: 3,
        times: 1,
      }),
    });
    expect(added.status).toBe(201);
    expect(await added.json()).toEqual({ id: expect.any(String) });
    const first = await post('/v1/thing', {});
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('3');
    expect((await post('/v1/thing', {})).status).toBe(202);
    expect((await calls()).length).toBe(1);
  });

  it('drops the connection on a reset rule without recording the call', async () => {
    await fetch(`${base}/sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ match: {}, action: 'reset' }),
    });
    await expect(post('/v1/thing', {})).rejects.toThrow();
    expect(await calls()).toEqual([]);
  });

  it('refuses a malformed rule with 400', async () => {
    const answer = await fetch(`${base}/sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ action: 'nope' }),
    });
    expect(answer.status).toBe(400);
  });

  it('answers 404 to an unknown route', async () => {
    expect((await post('/v1/unknown', {})).status).toBe(404);
  });

  it('holds a status answer for the delays before it, as a problem', async () => {
    for (const rule of [
      { match: {}, action: 'delay', delayMs: 100, times: 1 },
      { match: {}, action: 'status', status: 429, times: 1 },
    ]) {
      await fetch(`${base}/sim/faults`, { method: 'POST', body: JSON.stringify(rule) });
    }
    const started = Date.now();
    const answer = await post('/v1/thing', {});
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).toBeNull();
    expect(await answer.json()).toEqual({
      type: 'about:blank',
      title: 'Simulated fault',
      status: 429,
      detail: 'TEST simulator fault rule',
    });
    expect(await calls()).toEqual([]);
  });

  it('lists deliveries per key, the rules, and 404 for an unknown control route', async () => {
    await post('/v1/thing', {});
    await post('/v1/thing', {});
    await post('/v1/other', {}, 'K2');
    expect(await (await fetch(`${base}/sim/deliveries`)).json()).toEqual({ K1: 2, K2: 1 });
    await fetch(`${base}/sim/faults`, { method: 'POST', body: JSON.stringify({ action: 'silent' }) });
    expect(await (await fetch(`${base}/sim/faults`)).json()).toEqual([
      { id: expect.any(String), match: {}, action: 'silent' },
    ]);
    expect((await fetch(`${base}/sim/faults`, { method: 'POST', body: '{' })).status).toBe(400);
    const unknown = await fetch(`${base}/sim/nothing`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no control route GET /sim/nothing' });
  });

  it('records a body that is not JSON as its text, and an empty one as null', async () => {
    await fetch(`${base}/v1/thing`, { method: 'POST', body: 'not json' });
    await fetch(`${base}/v1/thing`, { method: 'POST' });
    expect((await calls()).map((c) => [c.body, c.idempotencyKey, c.delivery])).toEqual([
      ['not json', null, null],
      [null, null, null],
    ]);
  });
});

describe('createSimulator drops repeats of an applied Idempotency-Key', () => {
  let sim: Simulator;
  let base: string;
  const applied: unknown[] = [];
  const after: unknown[] = [];
  beforeAll(async () => {
    sim = createSimulator({
      name: 'TEST',
      actions: ['status', 'delay', 'reset'],
      routes: {
        '/v1/thing': (call) => {
          applied.push(call.body);
          return (call.body as { refuse?: boolean } | null)?.refuse
            ? { status: 409, body: { refused: true } }
            : { status: 202, body: { ok: applied.length } };
        },
        '/v1/other': (call) => {
          applied.push(call.body);
          return { status: 200, body: { other: true } };
        },
      },
      afterAnswer: (call) => after.push(call.body),
    });
    await sim.listen(0);
    base = `http://127.0.0.1:${(sim.server.address() as AddressInfo).port}`;
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    await fetch(`${base}/sim/calls`, { method: 'DELETE' });
    await fetch(`${base}/sim/faults`, { method: 'DELETE' });
    applied.length = 0;
    after.length = 0;
  });

  const post = async (path: string, body: unknown, key: string | null = 'K1') => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(key === null ? {} : { 'Idempotency-Key': key }) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  };
  const calls = async () =>
    (await (await fetch(`${base}/sim/calls`)).json()) as {
      path: string;
      body: unknown;
      delivery: number | null;
      duplicate: boolean;
    }[];
  const fault = (rule: unknown) =>
    fetch(`${base}/sim/faults`, { method: 'POST', body: JSON.stringify(rule) });

  it('answers a repeat as the first was, records it as a duplicate, and applies it once', async () => {
    const first = await post('/v1/thing', { n: 1 });
    const repeat = await post('/v1/thing', { n: 2 });
    expect(first).toEqual({ status: 202, body: { ok: 1 } });
    expect(repeat).toEqual(first);
    expect(applied).toEqual([{ n: 1 }]);
    expect(after).toEqual([{ n: 1 }]);
    expect((await calls()).map((c) => [c.body, c.delivery, c.duplicate])).toEqual([
      [{ n: 1 }, 1, false],
      [{ n: 2 }, 2, true],
    ]);
  });

  it('remembers keys per route, and always applies a call without a key', async () => {
    await post('/v1/thing', { n: 1 });
    expect((await post('/v1/other', { n: 2 })).status).toBe(200);
    await post('/v1/thing', { n: 3 }, null);
    await post('/v1/thing', { n: 4 }, null);
    expect(applied).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    expect((await calls()).every((c) => !c.duplicate)).toBe(true);
  });

  it('does not remember a call its route refused: the next delivery applies', async () => {
    expect((await post('/v1/thing', { refuse: true })).status).toBe(409);
    expect((await post('/v1/thing', { n: 2 })).status).toBe(202);
    expect(applied).toEqual([{ refuse: true }, { n: 2 }]);
    expect((await calls()).map((c) => c.duplicate)).toEqual([false, false]);
  });

  it('does not remember a call answered by a status or reset rule: the later delivery applies', async () => {
    await fault({ match: { businessKey: 'K1' }, action: 'status', status: 503, times: 1 });
    await fault({ match: { businessKey: 'K2' }, action: 'reset', times: 1 });
    expect((await post('/v1/thing', { n: 1 })).status).toBe(503);
    await expect(post('/v1/thing', { n: 2 }, 'K2')).rejects.toThrow();
    expect(applied).toEqual([]);
    expect((await post('/v1/thing', { n: 3 })).status).toBe(202);
    expect((await post('/v1/thing', { n: 4 }, 'K2')).status).toBe(202);
    expect((await post('/v1/thing', { n: 5 })).status).toBe(202);
    expect(applied).toEqual([{ n: 3 }, { n: 4 }]);
    expect((await calls()).map((c) => [c.body, c.duplicate])).toEqual([
      [{ n: 3 }, false],
      [{ n: 4 }, false],
      [{ n: 5 }, true],
    ]);
  });

  it('forgets applied keys with DELETE /sim/calls', async () => {
    await post('/v1/thing', { n: 1 });
    expect((await fetch(`${base}/sim/calls`, { method: 'DELETE' })).status).toBe(204);
    await post('/v1/thing', { n: 2 });
    expect(applied).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await calls()).map((c) => [c.delivery, c.duplicate])).toEqual([[1, false]]);
  });

  it('of two overlapping deliveries, applies the first to arrive at its route and drops the other', async () => {
    await fault({ match: { businessKey: 'K1' }, action: 'delay', delayMs: 300, times: 1 });
    const slow = post('/v1/thing', { n: 'slow' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fast = await post('/v1/thing', { n: 'fast' });
    expect(fast).toEqual({ status: 202, body: { ok: 1 } });
    expect(await slow).toEqual(fast);
    expect(applied).toEqual([{ n: 'fast' }]);
    expect((await calls()).map((c) => [c.body, c.duplicate])).toEqual([
      [{ n: 'slow' }, true],
      [{ n: 'fast' }, false],
    ]);
  });
});
