import { DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { HttpError } from '#shared/errors.ts';
import { MAX_SEARCH_LIMIT, parseSearchQuery, searchMessages } from '#shared/support/search.ts';

process.env.TRACE_TABLE = 'trace-unit';
process.env.CORRELATION_TABLE = 'correlation-unit';
const ddb = mockClient(DynamoDBDocumentClient);

/** A stored trace item as the indexes hold it. */
const item = (messageId: string, receivedAt: string, extra: Record<string, unknown> = {}) => ({
  pk: messageId,
  messageId,
  flow: 'optOut',
  businessKey: messageId,
  keys: { optOutId: `OO-${messageId}`, deviceId: 'D100', eventExternalIdentifier: 'E' },
  receivedAt,
  state: 'DELIVERED',
  attempts: 1,
  updatedAt: receivedAt,
  events: [],
  expiresAt: 1,
  receivedKey: `${receivedAt}#${messageId}`,
  deviceKey: 'D100',
  ...extra,
});

const queries = () => ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);

beforeEach(() => {
  ddb.reset();
  // Any Scan fails the test: the search reads indexes only.
  ddb.on(ScanCommand).rejects(new Error('Scan sent'));
});
afterEach(() => expect(ddb.commandCalls(ScanCommand)).toHaveLength(0));

function badQuery(params: Record<string, string>): HttpError {
  try {
    parseSearchQuery(params);
  } catch (error) {
    return error as HttpError;
  }
  throw new Error('accepted');
}

describe('parseSearchQuery', () => {
  it('takes each lookup key, the filters and a page size', () => {
    expect(
      parseSearchQuery({ deviceId: 'D100', state: 'DEAD_LETTERED', flow: 'optOut', limit: '5' }),
    ).toEqual({ deviceId: 'D100', state: 'DEAD_LETTERED', flow: 'optOut', limit: 5 });
    for (const key of [
      'optOutId',
      'unavailabilityId',
      'syncRequestId',
      'eventExternalIdentifier',
      'dacsMessageId',
    ]) {
      expect(parseSearchQuery({ [key]: 'X-1' })).toEqual({ [key]: 'X-1', limit: 25 });
    }
  });

  it('normalises from and to to UTC', () => {
    expect(
      parseSearchQuery({
        state: 'DEAD_LETTERED',
        from: '2026-12-01T06:00:00-08:00',
        to: '2026-12-02T00:00:00Z',
      }),
    ).toMatchObject({ from: '2026-12-01T14:00:00.000Z', to: '2026-12-02T00:00:00.000Z' });
  });

  it('answers 400 listing every problem of a bad query', () => {
    const error = badQuery({ color: 'red', state: 'LOST', flow: 'x', limit: '0', from: 'yesterday' });
    expect(error).toBeInstanceOf(HttpError);
    expect(error.statusCode).toBe(400);
    expect(error.violations?.map((v) => v.path).sort()).toEqual(
      ['/color', '/deviceId', '/flow', '/from', '/limit', '/state'].sort(),
    );
  });

  it('needs a lookup key, unless it lists dead letters', () => {
    expect(badQuery({ state: 'RETRYING' }).violations?.[0]?.message).toMatch(/at least one of optOutId/);
    expect(badQuery({ flow: 'optOut' }).statusCode).toBe(400);
    expect(parseSearchQuery({ state: 'DEAD_LETTERED' })).toEqual({ state: 'DEAD_LETTERED', limit: 25 });
  });

  it('refuses an empty id, a too large limit, and to before from', () => {
    expect(badQuery({ deviceId: '' }).violations?.[0]).toEqual({
      path: '/deviceId',
      message: 'must be 1 to 200 characters',
    });
    expect(badQuery({ deviceId: 'D', limit: String(MAX_SEARCH_LIMIT + 1) }).violations?.[0]?.path).toBe(
      '/limit',
    );
    expect(
      badQuery({ deviceId: 'D', from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }).violations?.[0]
        ?.path,
    ).toBe('/to');
  });

  it('refuses a forged cursor, or one made for another query', async () => {
    expect(badQuery({ deviceId: 'D100', cursor: 'not-a-cursor' }).violations?.[0]?.path).toBe('/cursor');
    ddb.on(QueryCommand).resolves({
      Items: [item('m-2', '2026-12-01T10:00:02.000Z'), item('m-1', '2026-12-01T10:00:01.000Z')],
    });
    const page = await searchMessages(parseSearchQuery({ eventExternalIdentifier: 'E', limit: '1' }));
    expect(page.cursor).toEqual(expect.any(String));
    expect(parseSearchQuery({ eventExternalIdentifier: 'E', limit: '5', cursor: page.cursor! }).cursor).toBe(
      page.cursor,
    );
    expect(badQuery({ eventExternalIdentifier: 'F', cursor: page.cursor! }).violations?.[0]?.path).toBe(
      '/cursor',
    );
  });
});

describe('searchMessages', () => {
  it('reads the lookup key index partition newest first, and answers traces without index attributes', async () => {
    ddb.on(QueryCommand).resolves({ Items: [item('m-1', '2026-12-01T10:00:01.000Z')] });
    const page = await searchMessages(parseSearchQuery({ optOutId: 'OO-m-1' }));
    expect(queries()).toEqual([
      expect.objectContaining({
        TableName: 'trace-unit',
        IndexName: 'byBusinessId',
        ScanIndexForward: false,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'idKey' },
        ExpressionAttributeValues: { ':pk': 'optOutId#OO-m-1' },
      }),
    ]);
    expect(page).toEqual({ items: [expect.objectContaining({ messageId: 'm-1', state: 'DELIVERED' })] });
    expect(page.items[0]).not.toHaveProperty('pk');
    expect(page.items[0]).not.toHaveProperty('receivedKey');
    expect(page.items[0]).not.toHaveProperty('deviceKey');
  });

  it.each([
    ['eventExternalIdentifier', 'byEvent', 'eventKey', 'EVT-9'],
    ['unavailabilityId', 'byBusinessId', 'idKey', 'unavailabilityId#EVT-9'],
    ['syncRequestId', 'byBusinessId', 'idKey', 'syncRequestId#EVT-9'],
    ['dacsMessageId', 'byBusinessId', 'idKey', 'dacsMessageId#EVT-9'],
  ])('finds by %s through the %s index', async (key, index, attribute, value) => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await searchMessages(parseSearchQuery({ [key]: 'EVT-9' }));
    expect(queries()).toEqual([
      expect.objectContaining({
        IndexName: index,
        ExpressionAttributeNames: { '#pk': attribute },
        ExpressionAttributeValues: { ':pk': value },
      }),
    ]);
  });

  it("finds a device's opt-outs, and the traces of the sync requests that hold it, merged newest first", async () => {
    ddb
      .on(QueryCommand, { IndexName: 'byDevice', TableName: 'correlation-unit' })
      .resolves({ Items: [{ gsi2pk: 'D100', gsi2sk: '2026-12-01T09:00:00.000Z#SR-1' }] })
      .on(QueryCommand, { IndexName: 'byDevice', TableName: 'trace-unit' })
      .resolves({
        Items: [item('opt-2', '2026-12-01T11:00:00.000Z'), item('opt-1', '2026-12-01T08:00:00.000Z')],
      })
      .on(QueryCommand, { IndexName: 'byBusinessId' })
      .resolves({
        Items: [
          item('sync-1', '2026-12-01T09:00:00.000Z', { flow: 'assetSync', keys: { syncRequestId: 'SR-1' } }),
        ],
      });
    const page = await searchMessages(parseSearchQuery({ deviceId: 'D100' }));
    expect(page.items.map((t) => t.messageId)).toEqual(['opt-2', 'sync-1', 'opt-1']);
    expect(queries()).toContainEqual(
      expect.objectContaining({
        IndexName: 'byBusinessId',
        ExpressionAttributeValues: { ':pk': 'syncRequestId#SR-1' },
      }),
    );
  });

  it('pages with a cursor that continues after the last trace answered, and none on the last page', async () => {
    const all = ['m-5', 'm-4', 'm-3', 'm-2', 'm-1'].map((id, i) =>
      item(id, `2026-12-01T10:00:0${5 - i}.000Z`),
    );
    ddb
      .on(QueryCommand)
      .callsFake((input: { TableName: string; ExpressionAttributeValues: Record<string, string> }) => {
        if (input.TableName === 'correlation-unit') return { Items: [] };
        const before = input.ExpressionAttributeValues[':hi'];
        return { Items: all.filter((i) => before === undefined || i.receivedKey <= before) };
      });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const params: Record<string, string> = { deviceId: 'D100', limit: '2', ...(cursor ? { cursor } : {}) };
      const page = await searchMessages(parseSearchQuery(params));
      seen.push(...page.items.map((t) => t.messageId));
      cursor = page.cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(['m-5', 'm-4', 'm-3', 'm-2', 'm-1']);
    expect(pages).toBe(3);
  });

  it('filters by every other key given, by flow and by state', async () => {
    ddb.on(QueryCommand, { TableName: 'correlation-unit' }).resolves({ Items: [] });
    ddb.on(QueryCommand, { TableName: 'trace-unit' }).resolves({
      Items: [
        item('a', '2026-12-01T10:00:03.000Z', { state: 'DEAD_LETTERED' }),
        item('b', '2026-12-01T10:00:02.000Z', {
          keys: { optOutId: 'OO-b', deviceId: 'D999', eventExternalIdentifier: 'E' },
        }),
        item('c', '2026-12-01T10:00:01.000Z'),
      ],
    });
    const page = await searchMessages(
      parseSearchQuery({ eventExternalIdentifier: 'E', deviceId: 'D100', state: 'DEAD_LETTERED' }),
    );
    expect(page.items.map((t) => t.messageId)).toEqual(['a']);
  });

  it('lists the dead letters of every flow from the dead-letter index, in the time range', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await searchMessages(
      parseSearchQuery({ state: 'DEAD_LETTERED', from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' }),
    );
    expect(
      queries()
        .map((q) => q.ExpressionAttributeValues?.[':pk'])
        .sort(),
    ).toEqual(['assetSync', 'assetSyncAck', 'legacyAck', 'optOut', 'unavailability'].sort());
    expect(queries()[0]).toMatchObject({
      IndexName: 'byDeadLetter',
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lo AND :hi',
      ExpressionAttributeNames: { '#pk': 'deadLetterFlow', '#sk': 'deadLetterKey' },
      ExpressionAttributeValues: expect.objectContaining({ ':lo': '2026-12-01T00:00:00.000Z' }),
    });
  });

  it('lists the dead letters of one flow', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await searchMessages(parseSearchQuery({ state: 'DEAD_LETTERED', flow: 'optOut' }));
    expect(queries()).toEqual([expect.objectContaining({ ExpressionAttributeValues: { ':pk': 'optOut' } })]);
  });
});
