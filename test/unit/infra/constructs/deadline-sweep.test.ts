import { Match } from 'aws-cdk-lib/assertions';
import { SWEEP } from '#shared/flows/registry.ts';
import { devStage, fnId, getAtt, roleId, SYNTH_TIMEOUT, template } from '../fixtures.ts';
import { actionsOf, logicalId, resourcesOf, type Synthesized, statementsOfRole } from '../synth.ts';

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

  it('reads the correlation table, updates items only to claim them, and sends to the consolidation queue only', () => {
    const statements = statementsOfRole(template(), roleId(built.stack.sweep.function));
    const sends = statements.filter((s) => actionsOf(s).includes('sqs:SendMessage'));
    expect(sends.flatMap(resourcesOf)).toEqual([
      getAtt(logicalId(built, built.stack.processors.assetSyncAck.queue)),
    ]);
    const writes = statements
      .flatMap(actionsOf)
      .filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a));
    expect(writes).toEqual(['dynamodb:UpdateItem']);
  });
});
