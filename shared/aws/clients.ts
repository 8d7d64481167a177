/**
 * AWS SDK clients, created once per process and reused across invocations. Endpoints come from the
 * SDK's own `AWS_ENDPOINT_URL_<SERVICE>` variables, so the local stack points them at DynamoDB Local
 * and fauxqs without any code path of its own. Each client is instrumented for X-Ray (a no-op where
 * tracing is off, as locally).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { optionalString } from '#shared/config/env.ts';
import { tracer } from '#shared/observability.ts';

let dynamo: DynamoDBClient | undefined;
let documentClient: DynamoDBDocumentClient | undefined;
let sqs: SQSClient | undefined;
let s3: Promise<S3Client> | undefined;
let secrets: SecretsManagerClient | undefined;

export function dynamoClient(): DynamoDBClient {
  dynamo ??= tracer.captureAWSv3Client(new DynamoDBClient({}));
  return dynamo;
}

/** Document client: plain JS values in and out, `undefined` attributes dropped. */
export function documentClientFor(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(dynamoClient(), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return documentClient;
}

export function sqsClient(): SQSClient {
  sqs ??= tracer.captureAWSv3Client(new SQSClient({}));
  return sqs;
}

/**
 * The S3 SDK, loaded on first use: S3 only carries claim checks (messages over the threshold), so a
 * function does not load it at initialisation (bench/coldstart.ts).
 */
export const s3Sdk = () => import('#shared/aws/s3.ts');

export function s3Client(): Promise<S3Client> {
  s3 ??= s3Sdk().then(({ S3Client }) =>
    // Emulators serve path-style addresses only.
    tracer.captureAWSv3Client(
      new S3Client({ forcePathStyle: optionalString('S3_FORCE_PATH_STYLE', 'false') === 'true' }),
    ),
  );
  return s3;
}

export function secretsManagerClient(): SecretsManagerClient {
  secrets ??= tracer.captureAWSv3Client(new SecretsManagerClient({}));
  return secrets;
}
