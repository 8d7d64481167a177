/**
 * Creates the local equivalents of what the CDK stack deploys: the three tables, every flow's queue
 * and dead-letter queue (as the registry describes them), and the claim-check bucket. Then
 * {@link functionEnvironment} turns them into the environment the handlers read, with the same names
 * as on Lambda (docs/architecture.md, "Function environment").
 *
 * Every `ensure…` is idempotent: running it against existing resources changes nothing.
 */
import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  HeadBucketCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/constants.ts';
import { TUNABLE_ENV } from '#shared/config/tunables.ts';
import { receiveLimit, retryPolicyFromEnv } from '#shared/delivery/retry.ts';
import { FLOW_IDS, FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { CLAIM_CHECK_BUCKET_ENV, TABLES, type TableDefinition } from '#shared/store/tables.ts';

/** Table names by their env name: `{ CORRELATION_TABLE: 'it-correlation', … }`. */
export type TableNames = Record<(typeof TABLES)[number]['nameEnv'], string>;

export interface FlowQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly dlqName: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}
export type FlowQueues = Record<FlowId, FlowQueue>;

/** Dead-letter queues keep messages for the SQS maximum, 14 days. */
export const DLQ_RETENTION_SECONDS = 14 * 24 * 60 * 60;
/** The queue's visibility timeout is six times the function timeout, as AWS recommends. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

export function tableName(prefix: string, table: TableDefinition): string {
  return `${prefix}${table.name}`;
}

/** Queue names as the deployer builds them: prefix + stem (+ `-dlq`) (+ `.fifo`). */
export function queueNames(prefix: string, flowId: FlowId): { name: string; dlqName: string } {
  const { queue } = FLOWS[flowId];
  const suffix = queue.fifo ? '.fifo' : '';
  return { name: `${prefix}${queue.name}${suffix}`, dlqName: `${prefix}${queue.name}-dlq${suffix}` };
}

/** The table names under a prefix, by env name, without creating anything. */
export function tableNames(prefix: string): TableNames {
  return Object.fromEntries(TABLES.map((t) => [t.nameEnv, tableName(prefix, t)])) as TableNames;
}

/** Creates the three tables (on demand, GSIs projecting ALL, TTL on) unless they exist. */
export async function ensureTables(client: DynamoDBClient, prefix: string): Promise<TableNames> {
  const names = {} as Record<string, string>;
  for (const table of TABLES) {
    const name = tableName(prefix, table);
    names[table.nameEnv] = name;
    const def = table as TableDefinition;
    const keys = [def.partitionKey, ...(def.sortKey ? [def.sortKey] : [])];
    for (const index of def.indexes ?? []) keys.push(index.partitionKey, index.sortKey);
    try {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [...new Set(keys)].map((AttributeName) => ({
            AttributeName,
            AttributeType: 'S',
          })),
          KeySchema: [
            { AttributeName: def.partitionKey, KeyType: 'HASH' },
            ...(def.sortKey ? [{ AttributeName: def.sortKey, KeyType: 'RANGE' as const }] : []),
          ],
          ...(def.indexes?.length
            ? {
                GlobalSecondaryIndexes: def.indexes.map((index) => ({
                  IndexName: index.name,
                  KeySchema: [
                    { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
                    { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
                  ],
                  Projection: { ProjectionType: 'ALL' as const },
                })),
              }
            : {}),
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
      continue; // exists already, TTL was set when it was created
    }
    try {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true },
        }),
      );
    } catch {
      // DynamoDB Local accepts TTL but never expires items; a refusal here changes nothing locally.
    }
  }
  return names as TableNames;
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string>) {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!QueueUrl) throw new Error(`CreateQueue ${name} returned no URL`);
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`Queue ${name} has no ARN`);
  return { url: QueueUrl, arn };
}

/** The attributes the registry asks of a flow's source queue, given its DLQ's ARN. */
export function queueAttributes(
  flowId: FlowId,
  dlqArn: string,
  env: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const { queue } = FLOWS[flowId];
  const maxReceiveCount = receiveLimit(retryPolicyFromEnv(env));
  return {
    ...(queue.fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'false' } : {}),
    VisibilityTimeout: String(VISIBILITY_TIMEOUT_FACTOR * queue.functionTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
  };
}

/** Creates every flow's queue and dead-letter queue, as the registry describes them. */
export async function ensureQueues(
  sqs: SQSClient,
  prefix: string,
  env: Record<string, string | undefined> = process.env,
): Promise<FlowQueues> {
  const result = {} as Record<FlowId, FlowQueue>;
  for (const flowId of FLOW_IDS) {
    const { queue } = FLOWS[flowId];
    const { name, dlqName } = queueNames(prefix, flowId);
    const dlq = await createQueue(sqs, dlqName, {
      ...(queue.fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'false' } : {}),
      MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS),
    });
    const source = await createQueue(sqs, name, queueAttributes(flowId, dlq.arn, env));
    result[flowId] = { name, url: source.url, arn: source.arn, dlqName, dlqUrl: dlq.url, dlqArn: dlq.arn };
  }
  return result;
}

/** Creates the bucket unless it exists. */
export async function ensureBucket(s3: S3Client, name: string): Promise<string> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: name }));
    return name;
  } catch {
    // absent: create it below
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
  return name;
}

export interface LocalResources {
  readonly tables: TableNames;
  readonly queues: FlowQueues;
  readonly bucket: string;
  /** Endpoints of DynamoDB Local and fauxqs (SQS and S3 share one). */
  readonly endpoints: { readonly dynamodb: string; readonly sqs: string; readonly s3: string };
}

/**
 * Variables passed through to the handlers from the caller's environment when set there, so that a test
 * or a developer can shorten timings or switch modes: `LEGACY_ACK_MODE=reject npm start`.
 */
export const PASS_THROUGH_ENV = [
  'LEGACY_ACK_MODE',
  ...TUNABLE_ENV,
  'DERMS_CREDENTIALS',
  'DACS_CREDENTIALS',
  'POWERTOOLS_LOG_LEVEL',
  'POWERTOOLS_DEV',
  'POWERTOOLS_METRICS_DISABLED',
  ...FLOW_IDS.map((id) => FLOWS[id].target.pathEnv),
] as const;

export interface FunctionEnvironmentOptions {
  /** @default 'http://127.0.0.1:3001' */
  readonly dermsBaseUrl?: string;
  /** @default 'http://127.0.0.1:3002' */
  readonly dacsBaseUrl?: string;
  /** @default 'dacs-derms-integration' */
  readonly serviceName?: string;
  /** @default 'DacsDermsIntegration' */
  readonly metricsNamespace?: string;
  /** Powertools development mode: readable logs, no EMF metrics on stdout. @default true */
  readonly powertoolsDev?: boolean;
  /** Where {@link PASS_THROUGH_ENV} values are read from. @default {} */
  readonly source?: Readonly<Record<string, string | undefined>>;
  /** Set last, over everything else. */
  readonly overrides?: Readonly<Record<string, string | undefined>>;
}

/** The environment of every handler, exactly the names of docs/architecture.md. */
export function functionEnvironment(
  resources: LocalResources,
  options: FunctionEnvironmentOptions = {},
): Record<string, string> {
  const env: Record<string, string> = { ...resources.tables };
  for (const flowId of FLOW_IDS) {
    const { queue } = FLOWS[flowId];
    env[queue.urlEnv] = resources.queues[flowId].url;
    env[queue.dlqUrlEnv] = resources.queues[flowId].dlqUrl;
  }
  Object.assign(env, {
    [CLAIM_CHECK_BUCKET_ENV]: resources.bucket,
    DERMS_BASE_URL: options.dermsBaseUrl ?? 'http://127.0.0.1:3001',
    DACS_BASE_URL: options.dacsBaseUrl ?? 'http://127.0.0.1:3002',
    AWS_ENDPOINT_URL_DYNAMODB: resources.endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: resources.endpoints.sqs,
    AWS_ENDPOINT_URL_S3: resources.endpoints.s3,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    POWERTOOLS_SERVICE_NAME: options.serviceName ?? 'dacs-derms-integration',
    POWERTOOLS_METRICS_NAMESPACE: options.metricsNamespace ?? 'DacsDermsIntegration',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_DEV: String(options.powertoolsDev ?? true),
  });
  for (const key of PASS_THROUGH_ENV) {
    const value = options.source?.[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) env[key] = value;
  }
  return env;
}
