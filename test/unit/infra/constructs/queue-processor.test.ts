import { FUNCTION_GRANTS } from '#infra/grants.ts';
import { receiveLimit, retryPolicyFromEnv } from '#shared/delivery/retry.ts';
import { FLOWS, flowList } from '#shared/flows/registry.ts';
import {
  devStage,
  expectedPairs,
  fnId,
  getAtt,
  grantedPairs,
  objectsUnder,
  ref,
  resourcesOfType,
  roleId,
  SYNTH_TIMEOUT,
  template,
} from '../fixtures.ts';
import { actionsOf, logicalId, resourcesOf, type Synthesized, statementsOfRole } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

describe('QueueProcessor', () => {
  describe('queues', () => {
    const queueProps = (construct: { node: { defaultChild?: unknown } }) =>
      template().toJSON().Resources[logicalId(built, construct)].Properties;

    it.each(flowList())(
      '$id: DLQ with maxReceiveCount derived from the retry window, kept 14 days',
      (flow) => {
        const p = built.stack.processors[flow.id];
        const queue = queueProps(p.queue);
        const dlq = queueProps(p.deadLetterQueue);
        expect(queue.RedrivePolicy).toEqual({
          deadLetterTargetArn: getAtt(logicalId(built, p.deadLetterQueue)),
          maxReceiveCount: receiveLimit(retryPolicyFromEnv({})),
        });
        expect(dlq.MessageRetentionPeriod).toBe(14 * 86_400);
        expect(dlq.RedrivePolicy).toBeUndefined();
      },
    );

    it.each(flowList())('$id: visibility timeout is 6 x the process function timeout', (flow) => {
      const p = built.stack.processors[flow.id];
      expect(queueProps(p.queue).VisibilityTimeout).toBe(6 * flow.queue.functionTimeoutSeconds);
      expect(queueProps(p.function.function).Timeout).toBe(flow.queue.functionTimeoutSeconds);
    });

    it('is FIFO exactly where the registry needs per-device order (unavailability, asset sync)', () => {
      expect(FLOWS.unavailability.queue.fifo && FLOWS.assetSync.queue.fifo).toBe(true);
      for (const flow of flowList()) {
        const p = built.stack.processors[flow.id];
        for (const q of [queueProps(p.queue), queueProps(p.deadLetterQueue)]) {
          expect(q.FifoQueue ?? false).toBe(flow.queue.fifo);
          expect((q.QueueName as string).endsWith('.fifo')).toBe(flow.queue.fifo);
        }
      }
    });

    it('gives opt-outs a queue and function of their own, never shared with asset syncs', () => {
      const optOut = built.stack.processors.optOut;
      const assetSync = built.stack.processors.assetSync;
      expect(logicalId(built, optOut.queue)).not.toBe(logicalId(built, assetSync.queue));
      const mappings = Object.values(resourcesOfType('AWS::Lambda::EventSourceMapping'));
      const forQueue = (q: string) =>
        mappings.filter((m) => JSON.stringify(m.Properties.EventSourceArn).includes(q));
      expect(forQueue(logicalId(built, optOut.queue))).toHaveLength(1);
      expect(forQueue(logicalId(built, optOut.queue))[0]!.Properties.FunctionName).toEqual(
        ref(fnId(optOut.function)),
      );
    });

    it('encrypts every queue and denies non-TLS access', () => {
      const queues = resourcesOfType('AWS::SQS::Queue');
      expect(Object.keys(queues)).toHaveLength(2 * flowList().length);
      for (const q of Object.values(queues)) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
      const policies = Object.values(resourcesOfType('AWS::SQS::QueuePolicy'));
      const protectedQueues = policies
        .filter((p) =>
          (p.Properties.PolicyDocument.Statement as Record<string, unknown>[]).some(
            (s) =>
              s.Effect === 'Deny' &&
              JSON.stringify(s.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}',
          ),
        )
        .flatMap((p) => p.Properties.Queues as unknown[]);
      expect(protectedQueues).toHaveLength(Object.keys(queues).length);
    });
  });

  describe('event source mappings', () => {
    it.each(flowList())(
      '$id: partial batch failures, batch size and maxConcurrency from the registry',
      (flow) => {
        const p = built.stack.processors[flow.id];
        template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          EventSourceArn: getAtt(logicalId(built, p.queue)),
          FunctionName: ref(fnId(p.function)),
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          BatchSize: flow.queue.batchSize,
          ScalingConfig: { MaximumConcurrency: flow.queue.maxConcurrency },
        });
      },
    );
  });

  describe('process function', () => {
    it('wires process environments to the receiver, its path, its credentials secret and the DLQ', () => {
      for (const flow of flowList()) {
        const p = built.stack.processors[flow.id];
        const env = template().toJSON().Resources[fnId(p.function)].Properties.Environment.Variables;
        const system = flow.target.system;
        const other = system === 'DERMS' ? 'DACS' : 'DERMS';
        expect(env[`${system}_BASE_URL`]).toBe(built.config.targets[system].baseUrl);
        expect(env[flow.target.pathEnv]).toBe(flow.target.defaultPath);
        expect(env[`${system}_CREDENTIALS_SECRET_ARN`]).toEqual(
          ref(logicalId(built, built.stack.credentials[system])),
        );
        expect(env[flow.queue.dlqUrlEnv]).toEqual(ref(logicalId(built, p.deadLetterQueue)));
        expect(env[`${other}_CREDENTIALS_SECRET_ARN`]).toBeUndefined();
        expect(JSON.stringify(env)).not.toMatch(/clientSecret/);
      }
    });

    it.each(flowList())(
      '$id: its role holds exactly its row of FUNCTION_GRANTS, on its own resources',
      (flow) => {
        const p = built.stack.processors[flow.id];
        const id = (c: { node: { defaultChild?: unknown } }) => logicalId(built, c);
        expect(grantedPairs(roleId(p.function))).toEqual(
          expectedPairs(FUNCTION_GRANTS.process(flow.id), {
            queue: getAtt(id(p.queue)),
            deadLetterQueue: getAtt(id(p.deadLetterQueue)),
            claimCheck: objectsUnder(id(built.stack.claimCheck.bucket), flow.id),
            credentials: ref(id(built.stack.credentials[flow.target.system])),
            trace: getAtt(id(built.stack.tables.trace)),
            correlation: getAtt(id(built.stack.tables.correlation)),
          }),
        );
      },
    );

    it('gives no process function a table index, a scan, a delete or the whole bucket', () => {
      for (const flow of flowList()) {
        const pairs = grantedPairs(roleId(built.stack.processors[flow.id].function));
        expect(pairs.join('\n')).not.toMatch(/index|dynamodb:Scan|dynamodb:DeleteItem|"\/\*"/);
      }
      // Only the flows that use correlation records get the table at all.
      const correlationId = logicalId(built, built.stack.tables.correlation);
      const touching = flowList().filter((f) =>
        grantedPairs(roleId(built.stack.processors[f.id].function)).some((p) => p.includes(correlationId)),
      );
      expect(touching.map((f) => f.id).sort()).toEqual(['assetSync', 'assetSyncAck', 'unavailability']);
    });

    it('lets a process function read only its own receiver credentials, send to its DLQ and change visibility', () => {
      for (const flow of flowList()) {
        const p = built.stack.processors[flow.id];
        const statements = statementsOfRole(template(), roleId(p.function));
        const secretReads = statements.filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
        expect(secretReads.flatMap(resourcesOf)).toEqual([
          ref(logicalId(built, built.stack.credentials[flow.target.system])),
        ]);
        const sends = statements.filter((s) => actionsOf(s).includes('sqs:SendMessage'));
        expect(sends.flatMap(resourcesOf)).toEqual([getAtt(logicalId(built, p.deadLetterQueue))]);
        const visibility = statements.filter((s) => actionsOf(s).includes('sqs:ChangeMessageVisibility'));
        expect(visibility.flatMap(resourcesOf)).toEqual([getAtt(logicalId(built, p.queue))]);
      }
    });
  });
});
