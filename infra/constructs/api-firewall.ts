import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface ApiFirewallProps {
  /** Physical name prefix, e.g. `dacs-derms-dev`; names the web ACL `<prefix>-api`. */
  readonly prefix: string;
  /** The API Gateway stage the web ACL protects. */
  readonly stage: apigw.Stage;
  /**
   * Rate-based rule: requests per source IP per 5 minutes before blocking.
   * @default 3000
   */
  readonly rateLimitPer5Min?: number;
}

/**
 * A regional WAFv2 web ACL on an API stage: a per-source-IP rate rule, then the AWS managed IP reputation,
 * common and known-bad-inputs rule groups. Every rule reports CloudWatch metrics and sampled requests.
 *
 * The web ACL and its association are created in `scope`, beside this construct rather than under it, so
 * that they keep the logical IDs they had before this construct was split out of {@link IntegrationApi}.
 */
export class ApiFirewall extends Construct {
  public readonly webAcl: wafv2.CfnWebACL;
  public readonly webAclAssociation: wafv2.CfnWebACLAssociation;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    this.webAcl = new wafv2.CfnWebACL(scope, 'WebAcl', {
      name: `${props.prefix}-api`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`${props.prefix}-api`),
      rules: [
        ratePerSourceIp(0, props.rateLimitPer5Min ?? 3000),
        managedRuleGroup('AWSManagedRulesAmazonIpReputationList', 1),
        managedRuleGroup('AWSManagedRulesCommonRuleSet', 2, [
          // Asset syncs and acks of 10,000 devices run to megabytes; the contract allows 5 MiB bodies,
          // which the function checks (413). This rule would block anything over 8 KB.
          { name: 'SizeRestrictions_BODY', actionToUse: { count: {} } },
        ]),
        managedRuleGroup('AWSManagedRulesKnownBadInputsRuleSet', 3),
      ],
    });
    this.webAclAssociation = new wafv2.CfnWebACLAssociation(scope, 'WebAclAssociation', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}

function ratePerSourceIp(priority: number, limit: number): wafv2.CfnWebACL.RuleProperty {
  return {
    name: 'RatePerSourceIp',
    priority,
    action: { block: {} },
    statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP' } },
    visibilityConfig: visibility('RatePerSourceIp'),
  };
}

function managedRuleGroup(
  name: string,
  priority: number,
  ruleActionOverrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[],
): wafv2.CfnWebACL.RuleProperty {
  return {
    name,
    priority,
    overrideAction: { none: {} },
    statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ruleActionOverrides } },
    visibilityConfig: visibility(name),
  };
}

function visibility(metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty {
  return { cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}
