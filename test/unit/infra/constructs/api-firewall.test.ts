import { Match } from 'aws-cdk-lib/assertions';
import { devStage, getAtt, resourcesOfType, SYNTH_TIMEOUT, template } from '../fixtures.ts';
import { logicalId, type Synthesized } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

describe('ApiFirewall', () => {
  it('has a regional web ACL with AWS managed rules and a per-IP rate rule', () => {
    template().hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: Match.arrayWith([
        Match.objectLike({
          Statement: { RateBasedStatement: { Limit: Match.anyValue(), AggregateKeyType: 'IP' } },
        }),
        Match.objectLike({
          Statement: {
            ManagedRuleGroupStatement: {
              VendorName: 'AWS',
              Name: 'AWSManagedRulesCommonRuleSet',
              RuleActionOverrides: [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }],
            },
          },
        }),
        Match.objectLike({
          Statement: {
            ManagedRuleGroupStatement: Match.objectLike({
              VendorName: 'AWS',
              Name: 'AWSManagedRulesKnownBadInputsRuleSet',
            }),
          },
        }),
      ]),
    });
  });

  it('associates the web ACL with the API stage', () => {
    const stageId = logicalId(built, built.stack.api.api.deploymentStage);
    const aclId = logicalId(built, { node: { defaultChild: built.stack.api.firewall.webAcl } });
    const [association] = Object.values(resourcesOfType('AWS::WAFv2::WebACLAssociation'));
    expect(association!.Properties.WebACLArn).toEqual(getAtt(aclId));
    expect(JSON.stringify(association!.Properties.ResourceArn)).toContain(`{"Ref":"${stageId}"}`);
  });
});
