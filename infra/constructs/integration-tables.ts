import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  CORRELATION_TABLE,
  IDEMPOTENCY_TABLE,
  type TableDefinition,
  TRACE_TABLE,
} from '#shared/store/tables.ts';

export interface IntegrationTablesProps {
  /** Physical name prefix, e.g. `dacs-derms-dev`; each table is `<prefix>-<name>`. */
  readonly prefix: string;
  /**
   * Keep the tables when the stack is deleted, and turn on deletion protection.
   * @default false
   */
  readonly retain?: boolean;
  /**
   * Table encryption.
   * @default dynamodb.TableEncryption.AWS_MANAGED
   */
  readonly encryption?: dynamodb.TableEncryption;
}

/**
 * The correlation, trace and idempotency tables, laid out by `shared/store/tables.ts`: on-demand,
 * point-in-time recovery, TTL on the layout's attribute, encrypted. The correlation table carries the
 * sparse `byDeadline` index that only pending sync-request headers populate, so the deadline sweep
 * queries it instead of scanning.
 */
export class IntegrationTables extends Construct {
  public readonly correlation: dynamodb.Table;
  public readonly trace: dynamodb.Table;
  public readonly idempotency: dynamodb.Table;

  constructor(scope: Construct, id: string, props: IntegrationTablesProps) {
    super(scope, id);
    this.correlation = this.table('Correlation', CORRELATION_TABLE, props);
    this.trace = this.table('Trace', TRACE_TABLE, props);
    this.idempotency = this.table('Idempotency', IDEMPOTENCY_TABLE, props);
  }

  /** A table by its layout's name (`correlation`, `trace`, `idempotency`). */
  public byName(name: string): dynamodb.Table {
    const table = {
      [CORRELATION_TABLE.name]: this.correlation,
      [TRACE_TABLE.name]: this.trace,
      [IDEMPOTENCY_TABLE.name]: this.idempotency,
    }[name];
    if (!table) throw new Error(`No table named ${name}`);
    return table;
  }

  /** Environment variables carrying the table names, under the names handlers read. */
  public get environment(): Record<string, string> {
    return {
      [CORRELATION_TABLE.nameEnv]: this.correlation.tableName,
      [TRACE_TABLE.nameEnv]: this.trace.tableName,
      [IDEMPOTENCY_TABLE.nameEnv]: this.idempotency.tableName,
    };
  }

  private table(id: string, def: TableDefinition, props: IntegrationTablesProps): dynamodb.Table {
    const key = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    const table = new dynamodb.Table(this, id, {
      tableName: `${props.prefix}-${def.name}`,
      partitionKey: key(def.partitionKey),
      sortKey: def.sortKey ? key(def.sortKey) : undefined,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: def.ttlAttribute,
      encryption: props.encryption ?? dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: props.retain ?? false,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of def.indexes ?? []) {
      // Sparse: only items that carry the index partition key appear in it.
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: key(index.partitionKey),
        sortKey: key(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    return table;
  }
}
