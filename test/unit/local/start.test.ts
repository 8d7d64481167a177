import { resolve } from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import { localClients } from '#local/auth.ts';
import { DEFAULT_PORTS } from '#local/constants.ts';
import { type LocalResources, tableNames } from '#local/resources.ts';
import {
  banner,
  dacsSimulatorOptions,
  dermsSimulatorOptions,
  functionPidFile,
  functionsProcessEnv,
  READY_LINE,
  readinessChecks,
  restartPause,
  stackSettings,
  stackUrls,
  waitUntilAnswering,
} from '#local/start.ts';
import { FLOW_IDS, FLOWS } from '#shared/flows/registry.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');

const resources: LocalResources = {
  tables: tableNames('local-'),
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
  bucket: 'local-claim-check',
  endpoints: { dynamodb: 'http://127.0.0.1:8000', sqs: 'http://127.0.0.1:4566', s3: 'http://127.0.0.1:4566' },
};
const urls = stackUrls(DEFAULT_PORTS, resources);

describe('functionPidFile', () => {
  it("names each role's pid file in the data folder", () => {
    expect(functionPidFile('/data', 'optOut')).toBe('/data/functions-optOut.pid');
    expect(functionPidFile('/data', 'api')).toBe('/data/functions-api.pid');
    expect(functionPidFile('/data', 'sweep')).toBe('/data/functions-sweep.pid');
  });
});

describe('stackSettings', () => {
  it('uses the default ports and keeps the data under .local', () => {
    const settings = stackSettings({});
    expect(settings).toEqual({
      ports: { ...DEFAULT_PORTS },
      dataDir: resolve(REPO_ROOT, '.local'),
      dbPath: resolve(REPO_ROOT, '.local/dynamodb'),
      pidFile: resolve(REPO_ROOT, '.local/functions.pid'),
    });
  });

  it('reads ports and paths from the environment, and `memory` keeps the tables in memory', () => {
    const settings = stackSettings({
      LOCAL_API_PORT: '3300',
      DACS_SIM_PORT: '3302',
      LOCAL_DATA_DIR: '.local-x',
      LOCAL_DYNAMODB_PATH: 'memory',
    });
    expect(settings.ports).toMatchObject({ api: 3300, dacs: 3302, derms: DEFAULT_PORTS.derms });
    expect(settings.pidFile).toBe(resolve(REPO_ROOT, '.local-x/functions.pid'));
    expect(settings.dbPath).toBeUndefined();
  });
});

describe('stackUrls', () => {
  it('puts the API and the simulators on 127.0.0.1, and the stand-ins where they answered', () => {
    expect(urls).toEqual({
      api: 'http://127.0.0.1:3000',
      derms: 'http://127.0.0.1:3001',
      dacs: 'http://127.0.0.1:3002',
      sqs: 'http://127.0.0.1:4566',
      dynamodb: 'http://127.0.0.1:8000',
    });
  });
});

describe('simulator options', () => {
  const log = () => {};

  it('has the DERMS simulator ack to this API as derms-local, with its secret from the environment', () => {
    const env = { DERMS_LOCAL_CLIENT_SECRET: 's3cret', DERMS_SIM_ACK_DELAY_MS: '5' };
    expect(dermsSimulatorOptions(urls.api, localClients(env), env, log)).toEqual({
      ackUrl: `http://127.0.0.1:3000${FLOWS.assetSyncAck.route.path}`,
      tokenUrl: 'http://127.0.0.1:3000/oauth2/token',
      clientId: 'derms-local',
      clientSecret: 's3cret',
      ackDelayMs: 5,
      ackChunkSize: 2,
      paths: {},
      log,
    });
  });

  it('moves the simulators to the paths the integration is configured to call', () => {
    const env = {
      [FLOWS.optOut.target.pathEnv]: '/custom/opt-outs',
      [FLOWS.legacyAck.target.pathEnv]: '/custom/legacy',
    };
    expect(dermsSimulatorOptions(urls.api, localClients(), env, log).paths).toEqual({
      optOuts: '/custom/opt-outs',
    });
    expect(dacsSimulatorOptions(env, log)).toEqual({ legacyAckPath: '/custom/legacy', log });
    expect(dacsSimulatorOptions({}, log)).toEqual({ log });
  });
});

describe('functionsProcessEnv', () => {
  it('passes the environment, the function environment and what the function processes read', () => {
    const env = functionsProcessEnv({ LOCAL_JWT_SECRET: 'jwt', OTHER: 'kept' }, 3300, resources, urls);
    expect(env).toMatchObject({
      OTHER: 'kept',
      DERMS_BASE_URL: urls.derms,
      DACS_BASE_URL: urls.dacs,
      AWS_ENDPOINT_URL_SQS: urls.sqs,
      LOCAL_REPO_ROOT: REPO_ROOT,
      LOCAL_API_HOST: '127.0.0.1',
      LOCAL_API_PORT: '3300',
      LOCAL_JWT_SECRET: 'jwt',
      LOCAL_QUEUES: JSON.stringify(resources.queues),
    });
  });

  it('points the functions at the token key and the local issuer, for the real authorizer', () => {
    expect(functionsProcessEnv({}, 3000, resources, urls, '/k.json')).toMatchObject({
      LOCAL_JWT_KEY_FILE: '/k.json',
      TOKEN_ISSUER_URL: urls.api,
      COGNITO_CLIENT_IDS: 'dacs-local,derms-local,support-local',
    });
  });
});

describe('restartPause', () => {
  it('waits 250 ms after a process that lived, doubling per young death in a row, up to 10 s', () => {
    expect([0, 1, 2, 3, 5, 6, 20].map(restartPause)).toEqual([250, 500, 1000, 2000, 8000, 10_000, 10_000]);
  });
});

describe('readiness', () => {
  it('checks the API, both simulators and both stand-ins, in that order', () => {
    expect(readinessChecks(urls).map(([name]) => name)).toEqual([
      'API',
      'DERMS simulator',
      'DACS simulator',
      'fauxqs',
      'DynamoDB Local',
    ]);
  });

  it('retries a check until it answers, then goes on to the next', async () => {
    const slow = jest.fn<() => Promise<boolean>>().mockResolvedValueOnce(false).mockResolvedValue(true);
    const fast = jest.fn(async () => true);
    await waitUntilAnswering(
      [
        ['slow', slow],
        ['fast', fast],
      ],
      { pauseMs: 1 },
    );
    expect(slow).toHaveBeenCalledTimes(2);
    expect(fast).toHaveBeenCalledTimes(1);
  });

  it('fails naming the first part that never answers, after its retries', async () => {
    const never = jest.fn(async () => false);
    const after = jest.fn(async () => true);
    await expect(
      waitUntilAnswering(
        [
          ['DACS simulator', never],
          ['fauxqs', after],
        ],
        { retries: 3, pauseMs: 1 },
      ),
    ).rejects.toThrow('DACS simulator does not answer');
    expect(never).toHaveBeenCalledTimes(4);
    expect(after).not.toHaveBeenCalled();
  });
});

describe('banner', () => {
  const facts = {
    urls,
    resources,
    clients: localClients(),
    dbPath: undefined,
    pidFile: '/tmp/functions.pid',
  };

  it('lists every address, client, table and queue, and ends with the ready line', () => {
    const text = banner(facts);
    expect(text.split('\n').at(-1)).toBe(READY_LINE);
    expect(text).toContain(
      'Integration API     http://127.0.0.1:3000   (OpenAPI: http://127.0.0.1:3000/openapi.json)',
    );
    expect(text).toContain('Local clients       secret "local-secret"');
    expect(text).toContain('    dacs-local     scope integration/dacs');
    expect(text).toContain('DynamoDB Local      http://127.0.0.1:8000   (in memory)');
    expect(text).toContain(`tables            ${Object.values(resources.tables).join(', ')}`);
    for (const id of FLOW_IDS) {
      expect(text).toContain(`    ${id.padEnd(15)} q/${id}`);
      expect(text).toContain(`    ${id.padEnd(15)} dlq/${id}`);
    }
    expect(text).toContain('Function processes  one per role, each restarted if it dies');
    expect(text).toContain(
      'api             API host, ingest handlers, authorizer; pid in /tmp/functions.pid',
    );
    for (const role of [...FLOW_IDS, 'sweep'])
      expect(text).toContain(`    ${role.padEnd(15)} pid in /tmp/functions-${role}.pid`);
  });

  it('does not print secrets set through the environment', () => {
    const text = banner({ ...facts, clients: localClients({ LOCAL_CLIENT_SECRET: 'hush' }), dbPath: '/db' });
    expect(text).toContain('secret (from the environment)');
    expect(text).not.toContain('hush');
    expect(text).toContain('(/db)');
  });
});
