/**
 * The floor for a 10,000-device sync on the same DynamoDB Local: one item per device written with
 * BatchWriteItem, 25 per request (DynamoDB's most), as many requests in flight as the integration's
 * batch writer, unprocessed items sent again. The integration must write (and
 * later update) an item per device too, so its sync figures are set beside this one.
 */
import { performance } from 'node:perf_hooks';
import { BatchWriteItemCommand, DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/constants.ts';
import { BASELINE_TABLE } from './baseline.ts';
import { leanSync } from './sync.ts';

/** Requests in flight: what the integration's batch writer (shared/consolidation/batch.ts) uses. */
const BATCH_WRITE_PARALLELISM = 16;

async function writeBatch(client: DynamoDBClient, batch: WriteRequest[]): Promise<void> {
  let pending = batch;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= 10) throw new Error(`${pending.length} items stayed unprocessed after 10 attempts`);
    const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [BASELINE_TABLE]: pending } }));
    pending = out.UnprocessedItems?.[BASELINE_TABLE] ?? [];
  }
}

/** The put requests of a lean sync's device items, 25 per batch. */
function deviceBatches(devices: number): WriteRequest[][] {
  const sync = leanSync(devices);
  const requests: WriteRequest[] = sync.devices.map((d) => ({
    PutRequest: {
      Item: {
        pk: { S: `SYNC#${sync.syncRequestId}#${d.deviceId}` },
        expected: { S: d.registrationAction },
        headEndSystem: { S: d.headEndSystem },
        nicId: { S: d.nicId },
      },
    },
  }));
  return Array.from({ length: Math.ceil(requests.length / 25) }, (_, i) =>
    requests.slice(i * 25, i * 25 + 25),
  );
}

/** Milliseconds to write `devices` device items of a lean sync, after a warm-up batch. */
export async function writeDeviceItems(dynamodb: string, devices: number): Promise<number> {
  const client = new DynamoDBClient({
    endpoint: dynamodb,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    await writeBatch(client, deviceBatches(25)[0]!); // connections, credentials, JIT
    const batches = deviceBatches(devices);
    const start = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < batches.length) await writeBatch(client, batches[next++]!);
    };
    await Promise.all(Array.from({ length: BATCH_WRITE_PARALLELISM }, worker));
    return performance.now() - start;
  } finally {
    client.destroy();
  }
}
