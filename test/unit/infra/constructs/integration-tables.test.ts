import { CORRELATION_TABLE, TABLES, TRACE_TABLE } from '#shared/store/tables.ts';
import { devStage, resourcesOfType, SYNTH_TIMEOUT } from '../fixtures.ts';

beforeAll(() => {
  devStage();
}, SYNTH_TIMEOUT);

describe('IntegrationTables', () => {
  const tableProps = (name: string) =>
    Object.values(resourcesOfType('AWS::DynamoDB::Table')).find(
      (t) => t.Properties.TableName === `dacs-derms-dev-${name}`,
    )!;

  it.each(TABLES.map((t) => ({ ...t })))('$name: on-demand, PITR, TTL on $ttlAttribute, encrypted', (def) => {
    const t = tableProps(def.name).Properties;
    expect(t.BillingMode).toBe('PAY_PER_REQUEST');
    expect(t.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(t.TimeToLiveSpecification).toEqual({ AttributeName: def.ttlAttribute, Enabled: true });
    expect(t.SSESpecification).toEqual({ SSEEnabled: true });
  });

  it('gives the correlation table the sparse byDeadline index the sweep queries, and byDevice for the search', () => {
    const t = tableProps(CORRELATION_TABLE.name).Properties;
    expect(t.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'byDeadline',
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
      }),
      expect.objectContaining({
        IndexName: 'byDevice',
        KeySchema: [
          { AttributeName: 'gsi2pk', KeyType: 'HASH' },
          { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
        ],
      }),
    ]);
    // Sparse: nothing but the index keys is declared, so only items carrying gsi1pk are indexed.
    expect(t.AttributeDefinitions).toEqual(
      expect.arrayContaining([{ AttributeName: 'gsi1pk', AttributeType: 'S' }]),
    );
  });

  it("gives the trace table the support search's sparse indexes", () => {
    const t = tableProps(TRACE_TABLE.name).Properties;
    expect(t.GlobalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName)).toEqual([
      'byBusinessId',
      'byDevice',
      'byEvent',
      'byDeadLetter',
    ]);
    expect(t.GlobalSecondaryIndexes[3].KeySchema).toEqual([
      { AttributeName: 'deadLetterFlow', KeyType: 'HASH' },
      { AttributeName: 'deadLetterKey', KeyType: 'RANGE' },
    ]);
  });

  it('has no deletion protection outside prod', () => {
    for (const t of Object.values(resourcesOfType('AWS::DynamoDB::Table'))) {
      expect(t.Properties.DeletionProtectionEnabled).toBe(false);
    }
  });
});
