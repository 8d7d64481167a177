import {
  functionEnvironment,
  type LocalResources,
  queueAttributes,
  queueNames,
  tableNames,
} from '#local/resources.ts';
import { DEFAULT_RETRY_POLICY, receiveLimit } from '#shared/delivery/retry.ts';
import { FLOW_IDS, FLOWS } from '#shared/flows/registry.ts';

const resources: LocalResources = {
  tables: tableNames('t-'),
  queues: Object.fromEntries(
    FLOW_IDS.map((id) => [
      id,
      {
        name: id,
        url: `q/${id}`,
        arn: `arn/${id}`,
        dlqName: `${id}-dlq`,
        dlqUrl: `dlq/${id}`,
        dlqArn: `arn/${id}-dlq`,
      },
    ]),
  ) as LocalResources['queues'],
  bucket: 't-claim-check',
  endpoints: { dynamodb: 'http://127.0.0.1:8100', sqs: 'http://127.0.0.1:4666', s3: 'http://127.0.0.1:4666' },
};

describe('queue definitions', () => {
  it('names FIFO queues and their DLQs with the .fifo suffix', () => {
    expect(queueNames('p-', 'assetSync')).toEqual({
      name: 'p-asset-sync.fifo',
      dlqName: 'p-asset-sync-dlq.fifo',
    });
    expect(queueNames('p-', 'optOut')).toEqual({ name: 'p-opt-out', dlqName: 'p-opt-out-dlq' });
  });

  it('sets visibility to six function timeouts and the redrive of the registry', () => {
    expect(queueAttributes('assetSync', 'arn:dlq', { RETRY_WINDOW_SECONDS: '60' })).toEqual({
      FifoQueue: 'true',
      ContentBasedDeduplication: 'false',
      VisibilityTimeout: String(6 * FLOWS.assetSync.queue.functionTimeoutSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: 'arn:dlq',
        maxReceiveCount: receiveLimit({ ...DEFAULT_RETRY_POLICY, windowSeconds: 60 }),
      }),
    });
    expect(queueAttributes('optOut', 'arn:dlq')).not.toHaveProperty('FifoQueue');
  });
});

describe('functionEnvironment', () => {
  it('sets the variables of docs/architecture.md', () => {
    const env = functionEnvironment(resources);
    expect(env).toMatchObject({
      CORRELATION_TABLE: 't-correlation',
      TRACE_TABLE: 't-trace',
      IDEMPOTENCY_TABLE: 't-idempotency',
      CLAIM_CHECK_BUCKET: 't-claim-check',
      DERMS_BASE_URL: 'http://127.0.0.1:3001',
      DACS_BASE_URL: 'http://127.0.0.1:3002',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8100',
      AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4666',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4666',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: expect.any(String),
      AWS_SECRET_ACCESS_KEY: expect.any(String),
      POWERTOOLS_SERVICE_NAME: expect.any(String),
      POWERTOOLS_METRICS_NAMESPACE: expect.any(String),
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    for (const id of FLOW_IDS) {
      expect(env[FLOWS[id].queue.urlEnv]).toBe(`q/${id}`);
      expect(env[FLOWS[id].queue.dlqUrlEnv]).toBe(`dlq/${id}`);
    }
  });

  it('passes the known settings through from the source, and overrides last', () => {
    const env = functionEnvironment(resources, {
      source: {
        LEGACY_ACK_MODE: 'reject',
        SYNC_DEADLINE_SECONDS: '5',
        HOME: '/root',
        RETRY_BASE_SECONDS: '',
      },
      overrides: { POWERTOOLS_LOG_LEVEL: 'ERROR' },
    });
    expect(env.LEGACY_ACK_MODE).toBe('reject');
    expect(env.SYNC_DEADLINE_SECONDS).toBe('5');
    expect(env).not.toHaveProperty('HOME');
    expect(env).not.toHaveProperty('RETRY_BASE_SECONDS');
    expect(env.POWERTOOLS_LOG_LEVEL).toBe('ERROR');
  });
});
