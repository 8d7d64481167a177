/**
 * Integration layer: DynamoDB Local (in memory, port 8100) and fauxqs (port 4666), with the tables,
 * queues and bucket of the stack under the prefix `it-`. The function environment goes into
 * `process.env`, which the tests (run in band) and the handler modules they import read.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  ensureBucket,
  ensureQueues,
  ensureTables,
  functionEnvironment,
  type LocalResources,
} from '#local/resources.ts';
import {
  assertPortsFree,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalService,
  startDynamoDbLocal,
  startFauxqs,
} from '#local/services.ts';

export const IT_PREFIX = 'it-';
const DYNAMODB_PORT = Number(process.env.IT_DYNAMODB_PORT ?? 8100);
const FAUXQS_PORT = Number(process.env.IT_FAUXQS_PORT ?? 4666);

declare global {
  var __integrationServices: LocalService[] | undefined;
}

export default async function globalSetup(): Promise<void> {
  await assertPortsFree({ 'DynamoDB Local': DYNAMODB_PORT, fauxqs: FAUXQS_PORT });
  const services: LocalService[] = [];
  globalThis.__integrationServices = services;
  try {
    const [dynamodb, fauxqs] = await Promise.all([
      startDynamoDbLocal({ port: DYNAMODB_PORT }),
      startFauxqs({ port: FAUXQS_PORT }),
    ]);
    services.push(dynamodb, fauxqs);
    const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const ddb = new DynamoDBClient({ ...common, endpoint: dynamodb.endpoint });
    const sqs = new SQSClient({ ...common, endpoint: fauxqs.endpoint });
    const s3 = new S3Client({ ...common, endpoint: fauxqs.endpoint, forcePathStyle: true });
    const resources: LocalResources = {
      tables: await ensureTables(ddb, IT_PREFIX),
      queues: await ensureQueues(sqs, IT_PREFIX),
      bucket: await ensureBucket(s3, `${IT_PREFIX}claim-check`),
      endpoints: { dynamodb: dynamodb.endpoint, sqs: fauxqs.endpoint, s3: fauxqs.endpoint },
    };
    for (const client of [ddb, sqs, s3]) client.destroy();
    const env = functionEnvironment(resources, {
      source: process.env,
      overrides: { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN' },
    });
    Object.assign(process.env, env, { LOCAL_RESOURCES: JSON.stringify(resources) });
  } catch (error) {
    await Promise.allSettled(services.map((s) => s.stop()));
    throw error;
  }
}
