/**
 * Long and odd faults, end to end (issue "Nothing lost when a receiver is down for hours or refuses for
 * good"), with the e2e timings: back-off 1 to 4 s and a 90 s retry window. The old budget was 8 SQS
 * receives, about 20 s at these delays; an outage longer than that must now lose nothing.
 */
import { encodeHeaderKey } from '#shared/delivery/keys.ts';
import { optOut, unavailability } from '#test/helpers/messages.ts';
import { dacsSim, dermsSim, post, uid, waitFor, waitForState } from './helpers.ts';

const OLD_RECEIVE_LIMIT = 8;

afterEach(async () => {
  await dermsSim.clearFaults();
  await dacsSim.clearFaults();
});

it('rides out a DERMS outage longer than the old budget and delivers once, with no redrive', async () => {
  const message = optOut({ optOutId: `OO-${uid()}` });
  await dermsSim.fault({ match: { businessKey: message.optOutId }, action: 'status', status: 503 });
  const accepted = await post('/v1/dacs/event-opt-outs', message);
  expect(accepted.status).toBe(202);
  const messageId = String(accepted.body.messageId);

  const during = await waitFor(
    async () => {
      const trace = await waitForState(messageId, ['RETRYING', 'DEAD_LETTERED']);
      return Number(trace.attempts) > OLD_RECEIVE_LIMIT ? trace : undefined;
    },
    60_000,
    'more attempts than the old receive limit',
  );
  expect(during.state).toBe('RETRYING');
  expect(during.nextAttemptAt).toEqual(expect.any(String));

  await dermsSim.clearFaults();
  const trace = await waitForState(messageId, ['DELIVERED', 'DEAD_LETTERED'], 20_000);
  expect(trace.state).toBe('DELIVERED');
  const calls = (await dermsSim.calls('/v1/event-opt-outs')).filter(
    (c) => c.idempotencyKey === message.optOutId,
  );
  expect(calls).toHaveLength(1);
}, 120_000);

it('waits out a Retry-After longer than RETRY_MAX_SECONDS before the next try', async () => {
  const message = optOut({ optOutId: `OO-${uid()}` });
  const askedSeconds = 9; // RETRY_MAX_SECONDS is 4 in the e2e stack
  await dermsSim.fault({
    match: { businessKey: message.optOutId },
    action: 'status',
    status: 503,
    retryAfterSeconds: askedSeconds,
    times: 1,
  });
  const accepted = await post('/v1/dacs/event-opt-outs', message);
  const trace = await waitForState(String(accepted.body.messageId), ['DELIVERED'], 30_000);
  const events = trace.events as { state: string; at: string }[];
  const refused = events.find((e) => e.state === 'RETRYING');
  const delivered = events.find((e) => e.state === 'DELIVERED');
  expect(refused && delivered).toBeTruthy();
  const waitedMs = Date.parse(String(delivered?.at)) - Date.parse(String(refused?.at));
  expect(waitedMs).toBeGreaterThanOrEqual(askedSeconds * 1000 - 500);
}, 60_000);

it('delivers identifiers outside printable ASCII, keyed by their encoding, and emoji in free text unchanged', async () => {
  const tag = uid();
  const message = optOut({
    optOutId: `OPT-é${tag} `,
    deviceId: `DÉV-🔌${tag.slice(0, 4)}`,
    reason: `Customer said 🙅‍♀️ no — «${tag}» 𝄞\u0007`,
  });
  const accepted = await post('/v1/dacs/event-opt-outs', message);
  expect(accepted.status).toBe(202);
  const trace = await waitForState(String(accepted.body.messageId), ['DELIVERED', 'DEAD_LETTERED']);
  expect(trace.state).toBe('DELIVERED');
  const [call] = (await dermsSim.calls('/v1/event-opt-outs')).filter(
    (c) => c.idempotencyKey === encodeHeaderKey(message.optOutId),
  );
  expect(call?.body).toMatchObject({
    optOutId: message.optOutId,
    reason: message.reason,
    device: expect.objectContaining({ deviceId: message.deviceId }),
  });

  // A FIFO flow: the device id is the message group, which SQS would refuse as it is.
  const window = unavailability({ unavailabilityId: `UA-ü${tag}`, deviceId: `DÉV-🔌${tag.slice(0, 4)}` });
  const queued = await post('/v1/dacs/unavailability', window);
  expect(queued.status).toBe(202);
  const delivered = await waitForState(String(queued.body.messageId), ['DELIVERED', 'DEAD_LETTERED']);
  expect(delivered.state).toBe('DELIVERED');
}, 60_000);
