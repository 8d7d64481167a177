/**
 * Every route and every status code of the contract, over HTTP against the stack `npm start` runs.
 */
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import {
  assetSyncAck,
  assetSyncRequest,
  controllableDevice,
  legacyAck,
  optOut,
  unavailability,
} from '#test/helpers/messages.ts';
import { API, badToken, type Client, fetchToken, get, post, uid, waitForState } from './helpers.ts';

const PROBLEM = 'application/problem+json';

/** A valid message per flow, with fresh business keys. */
function validMessage(flow: FlowId): unknown {
  const id = uid();
  switch (flow) {
    case 'assetSync':
      return assetSyncRequest({
        sendDetails: { syncRequestId: `SR${id}` },
        locationInfo: { controllableDevices: [controllableDevice({ deviceId: `D${id}` })] },
      });
    case 'optOut':
      return optOut({ optOutId: `OO-${id}`, deviceId: `D${id}` });
    case 'unavailability':
      return unavailability({ unavailabilityId: `UA-${id}`, deviceId: `D${id}` });
    case 'assetSyncAck':
      return assetSyncAck({ syncRequestId: `SR${id}`, devices: [], final: true });
    case 'legacyAck':
      return legacyAck({ MsgAck: { whenISO: new Date().toISOString() } });
  }
}

const callerOf = (flow: FlowId): Client => (FLOWS[flow].caller === 'dacs' ? 'dacs-local' : 'derms-local');
const otherCaller = (flow: FlowId): Client => (FLOWS[flow].caller === 'dacs' ? 'derms-local' : 'dacs-local');

describe('token endpoint', () => {
  it('issues a bearer token to a known client', async () => {
    const response = await fetchToken('dacs-local');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: expect.any(Number),
    });
  });
  it('refuses a wrong secret with 401 and an unknown grant with 400', async () => {
    expect((await fetchToken('dacs-local', 'wrong')).status).toBe(401);
    expect((await fetchToken('dacs-local', 'local-secret', 'password')).status).toBe(400);
  });
});

describe.each(Object.keys(FLOWS) as FlowId[])('POST route of %s', (flow) => {
  const path = FLOWS[flow].route.path;
  const client = callerOf(flow);

  it('answers 202 ACCEPTED, then 202 duplicate for the same message', async () => {
    const message = validMessage(flow);
    const first = await post(path, message, { client });
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ messageId: expect.any(String), status: 'ACCEPTED', duplicate: false });
    const again = await post(path, message, { client });
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ messageId: first.body.messageId, status: 'ACCEPTED', duplicate: true });
  });

  it('answers 409 to the same business key with another body', async () => {
    const message = validMessage(flow) as Record<string, unknown>;
    expect((await post(path, message, { client })).status).toBe(202);
    const changed =
      flow === 'legacyAck'
        ? { MsgAck: { ...(message.MsgAck as object), ackType: 'ERROR' } }
        : flow === 'assetSync'
          ? { ...message, contactInfo: { contactId: 'CT-OTHER', cisPersonId: '1' } }
          : flow === 'assetSyncAck'
            ? { ...message, ackType: 'ERROR' }
            : { ...message, reason: 'something else' };
    const conflict = await post(path, changed, { client });
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get('content-type')).toContain(PROBLEM);
  });

  it('answers 400 to malformed JSON', async () => {
    const answer = await post(path, undefined, { client, rawBody: '{"not": json' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: 400, title: expect.any(String), detail: expect.any(String) });
  });

  it('answers 415 to a body that is not JSON', async () => {
    const answer = await post(path, undefined, {
      client,
      rawBody: 'a=b',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(answer.status).toBe(415);
    expect(answer.headers.get('content-type')).toContain(PROBLEM);
  });

  it('answers 413 to a body over 5 MiB', async () => {
    const rawBody = JSON.stringify({ padding: 'x'.repeat(5 * 1024 * 1024 + 10) });
    const answer = await post(path, undefined, { client, rawBody });
    expect(answer.status).toBe(413);
  });

  it('answers 422 listing every violation, with JSON Pointer paths', async () => {
    const message = {
      ...(validMessage(flow) as Record<string, unknown>),
      unexpectedField: true,
      anotherOne: 1,
    };
    const answer = await post<{ errors: { path: string; message: string }[] }>(path, message, { client });
    expect(answer.status).toBe(422);
    expect(answer.headers.get('content-type')).toContain(PROBLEM);
    expect(answer.body.errors.map((e) => e.path)).toEqual(
      expect.arrayContaining(['/unexpectedField', '/anotherOne']),
    );
  });

  it('answers 401 without a token, with an expired token and with a forged one', async () => {
    expect((await post(path, validMessage(flow), { client: null })).status).toBe(401);
    expect(
      (await post(path, validMessage(flow), { bearer: await badToken('expired', FLOWS[flow].scope) })).status,
    ).toBe(401);
    expect(
      (await post(path, validMessage(flow), { bearer: await badToken('forged', FLOWS[flow].scope) })).status,
    ).toBe(401);
  });

  it('answers 403 to the other caller and to support', async () => {
    const wrong = await post(path, validMessage(flow), { client: otherCaller(flow) });
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get('content-type')).toContain(PROBLEM);
    expect((await post(path, validMessage(flow), { client: 'support-local' })).status).toBe(403);
  });
});

describe('business rules over HTTP', () => {
  it('answers 422 for an unenroll that registers a device and for duplicate device ids, naming each path', async () => {
    const id = uid();
    const device = controllableDevice({ deviceId: `D${id}` });
    const message = assetSyncRequest({
      sendDetails: { syncRequestId: `SR${id}`, reason: 'UNENROLL' },
      locationInfo: { controllableDevices: [device, device] },
    });
    const answer = await post<{ errors: { path: string }[] }>('/v1/dacs/asset-sync', message);
    expect(answer.status).toBe(422);
    const paths = answer.body.errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/locationInfo/controllableDevices/1/deviceId']));
    expect(paths.some((p) => p.endsWith('/registrationAction'))).toBe(true);
  });

  it('answers 422 when an unavailability ends before it starts', async () => {
    const message = unavailability({
      unavailabilityId: `UA-${uid()}`,
      startDateTime: '2026-12-10T00:00:00-08:00',
      endDateTime: '2026-12-09T00:00:00-08:00',
    });
    const answer = await post<{ errors: { path: string }[] }>('/v1/dacs/unavailability', message);
    expect(answer.status).toBe(422);
    expect(answer.body.errors.map((e) => e.path)).toContain('/endDateTime');
  });
});

describe('legacy acknowledgement', () => {
  it('answers with Deprecation and a Link to the device-level route', async () => {
    const answer = await post('/v1/derms/legacy-acks', validMessage('legacyAck'), { client: 'derms-local' });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('deprecation')).toBe('true');
    expect(answer.headers.get('link')).toContain('/v1/derms/asset-sync-acks');
  });
});

describe('support routes', () => {
  it('GET /v1/messages/{id} answers 200 with the trace, 404 for an unknown id', async () => {
    const accepted = await post('/v1/dacs/event-opt-outs', validMessage('optOut'));
    const trace = await waitForState(String(accepted.body.messageId), ['DELIVERED']);
    expect(trace).toMatchObject({
      messageId: accepted.body.messageId,
      flow: 'optOut',
      state: 'DELIVERED',
      attempts: 1,
    });
    expect(trace).toHaveProperty('receivedAt');
    expect(trace).toHaveProperty('deliveredAt');
    const missing = await get('/v1/messages/no-such-message');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain(PROBLEM);
  });

  it('GET /v1/sync-requests/{id} answers 404 for an unknown id', async () => {
    expect((await get('/v1/sync-requests/SRNOSUCH')).status).toBe(404);
  });

  it('answers 401 without a token and 403 to DACS and DERMS', async () => {
    expect((await get('/v1/messages/x', { client: null })).status).toBe(401);
    expect((await get('/v1/messages/x', { client: 'dacs-local' })).status).toBe(403);
    expect((await get('/v1/sync-requests/x', { client: 'derms-local' })).status).toBe(403);
  });
});

describe('the gateway', () => {
  it('answers 404 problem+json for an unknown route', async () => {
    const response = await fetch(`${API()}/v1/nowhere`, { method: 'POST' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain(PROBLEM);
  });

  it('serves the OpenAPI document', async () => {
    const response = await fetch(`${API()}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toMatch(/^3\.1/);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(Object.values(FLOWS).map((f) => f.route.path)),
    );
  });

  // Last in this file: it spends the stage's burst.
  it('answers 429 with Retry-After once a burst exceeds the throttle', async () => {
    const bearer = await (await import('./helpers.ts')).token('support-local');
    const answers = await Promise.all(
      Array.from({ length: 160 }, () =>
        fetch(`${API()}/v1/messages/throttle-probe`, { headers: { Authorization: `Bearer ${bearer}` } }),
      ),
    );
    const throttled = answers.filter((a) => a.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0]?.headers.get('retry-after')).toBe('1');
    await new Promise((resolve) => setTimeout(resolve, 2500)); // let the bucket refill for the next file
  });
});
