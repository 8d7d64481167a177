import { Match } from 'aws-cdk-lib/assertions';
import { FUNCTION_GRANTS } from '#infra/grants.ts';
import { SWEEP } from '#shared/flows/registry.ts';
import { CORRELATION_TABLE } from '#shared/store/tables.ts';
import {
  devStage,
  expectedPairs,
  fnId,
  getAtt,
  grantedPairs,
  roleId,
  SYNTH_TIMEOUT,
  template,
} from '../fixtures.ts';
import { logicalId, type Synthesized } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

describe('DeadlineSweep', () => {
  it('runs on an EventBridge schedule at the registry rate', () => {
    template().hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${SWEEP.rateMinutes} minute${SWEEP.rateMinutes === 1 ? '' : 's'})`,
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: getAtt(fnId(built.stack.sweep.function)) })],
    });
  });

  it('is never retried, neither by EventBridge nor by Lambda, so a retry cannot overlap the next run', () => {
    template().hasResourceProperties('AWS::Events::Rule', {
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    template().hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId(built.stack.sweep.function) },
      MaximumRetryAttempts: 0,
    });
    const timeout = template().toJSON().Resources[fnId(built.stack.sweep.function)].Properties.Timeout;
    expect(timeout).toBeLessThan(SWEEP.rateMinutes * 60);
  });

  it('queries the byDeadline index, claims by UpdateItem and sends to the consolidation queue: nothing else', () => {
    const correlation = getAtt(logicalId(built, built.stack.tables.correlation));
    expect(grantedPairs(roleId(built.stack.sweep.function))).toEqual(
      expectedPairs(FUNCTION_GRANTS.sweep, {
        deadlineIndex: {
          'Fn::Join': ['', [correlation, `/index/${CORRELATION_TABLE.indexes[0].name}`]],
        },
        correlation,
        queue: getAtt(logicalId(built, built.stack.processors.assetSyncAck.queue)),
      }),
    );
  });
});
