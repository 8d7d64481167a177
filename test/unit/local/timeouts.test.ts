/**
 * The local stack holds process functions to their timeouts, as Lambda does, and a test stack can make
 * them (and so the queues' visibility timeouts) shorter.
 */

import type { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from '@jest/globals';
import {
  LambdaTimeoutError,
  lambdaContext,
  localFunctionTimeoutSeconds,
  withTimeout,
} from '#local/lambda.ts';
import type { FlowQueues } from '#local/resources.ts';
import { shortenVisibilityTimeouts } from '#local/start.ts';
import { ConfigurationError } from '#shared/errors.ts';
import { FLOW_IDS, FLOWS } from '#shared/flows/registry.ts';

describe('localFunctionTimeoutSeconds', () => {
  it("is the registry's timeout unless LOCAL_FUNCTION_TIMEOUT_SECONDS is set", () => {
    for (const id of FLOW_IDS)
      expect(localFunctionTimeoutSeconds(id, {})).toBe(FLOWS[id].queue.functionTimeoutSeconds);
  });

  it('is capped by a bare number, and set per flow by <flowId>=<seconds>, whatever the order', () => {
    const env = { LOCAL_FUNCTION_TIMEOUT_SECONDS: 'legacyAck=2, 15' };
    expect(localFunctionTimeoutSeconds('legacyAck', env)).toBe(2);
    expect(localFunctionTimeoutSeconds('assetSyncAck', env)).toBe(15);
    expect(localFunctionTimeoutSeconds('optOut', env)).toBe(15);
  });

  it("is never longer than the registry's", () => {
    expect(localFunctionTimeoutSeconds('optOut', { LOCAL_FUNCTION_TIMEOUT_SECONDS: 'optOut=600' })).toBe(30);
  });

  it('refuses an unknown flow or a value that is not a positive number, naming the key', () => {
    for (const spec of ['nope=3', 'abc', '0', 'optOut=-1'])
      expect(() => localFunctionTimeoutSeconds('optOut', { LOCAL_FUNCTION_TIMEOUT_SECONDS: spec })).toThrow(
        ConfigurationError,
      );
  });
});

describe('withTimeout', () => {
  const context = (timeoutMs: number) => lambdaContext({ functionName: 'local-optOut-process', timeoutMs });

  it('answers what the handler answers within its time', async () => {
    await expect(withTimeout(async () => 'done')({}, context(1000))).resolves.toBe('done');
  });

  it('fails an invocation that outlives its timeout with "Task timed out", as Lambda does', async () => {
    const slow = () => new Promise((done) => setTimeout(() => done('late'), 500));
    const invocation = withTimeout(slow)({}, context(50));
    await expect(invocation).rejects.toThrow(LambdaTimeoutError);
    await expect(invocation).rejects.toThrow(/local-optOut-process: Task timed out after 0\.05 seconds/);
  });
});

describe('shortenVisibilityTimeouts', () => {
  const queues = Object.fromEntries(FLOW_IDS.map((id) => [id, { url: `q/${id}` }])) as unknown as FlowQueues;

  it('sets each shortened flow’s queue to six times its timeout, and leaves the others alone', async () => {
    const sent: SetQueueAttributesCommand[] = [];
    const sqs = { send: async (command: SetQueueAttributesCommand) => void sent.push(command) };
    await shortenVisibilityTimeouts(sqs as never, queues, {
      LOCAL_FUNCTION_TIMEOUT_SECONDS: '20,legacyAck=2.5',
    });
    expect(sent.map((c) => [c.input.QueueUrl, c.input.Attributes?.VisibilityTimeout])).toEqual([
      ['q/assetSync', '120'],
      ['q/optOut', '120'],
      ['q/unavailability', '120'],
      ['q/assetSyncAck', '120'],
      ['q/legacyAck', '15'],
    ]);
    sent.length = 0;
    await shortenVisibilityTimeouts(sqs as never, queues, {});
    expect(sent).toEqual([]);
  });
});
