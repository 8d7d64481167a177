/**
 * The cold-start baseline (bench/coldstart.ts): a function holding only the SDK clients the integration
 * uses (DynamoDB with the document client, SQS, S3), each created once at module initialisation, as a
 * minimal Lambda would. The bench bundles it with the same construct, so with the same esbuild options,
 * as every function of the stack.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const sqs = new SQSClient({});
const s3 = new S3Client({});

/** Names the clients, so that none of them is dropped from the bundle. */
export const handler = async (): Promise<string[]> =>
  [documentClient, sqs, s3].map((c) => c.constructor.name);
