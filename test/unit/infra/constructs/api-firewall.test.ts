import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { ApiFirewall, type ApiFirewallProps, RATE_WINDOW_SECONDS } from '#infra/constructs/api-firewall.ts';
import { WAF_WINDOW_SECONDS } from '#infra/stage-checks.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { devStage, getAtt, resourcesOfType, SYNTH_TIMEOUT, template } from '../fixtures.ts';
import { logicalId, type Synthesized } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

// biome-ignore lint/suspicious/noExplicitAny: template resources are untyped JSON
type Rule = any;
const webAcl = (t: Template = template()) =>
  Object.values(t.findResources('AWS::WAFv2::WebACL'))[0]!.Properties;
const rule = (name: string, t?: Template): Rule => webAcl(t).Rules.find((r: Rule) => r.Name === name);
const body = (key: string, t?: Template) => JSON.parse(webAcl(t).CustomResponseBodies[key].Content);

/** A firewall on a bare API, for the options the stages do not use. */
function firewallWith(props: Partial<ApiFirewallProps>): Template {
  const stack = new Stack();
  const api = new apigw.RestApi(stack, 'Api');
  api.root.addMethod('GET');
  new ApiFirewall(stack, 'Firewall', {
    prefix: 'p',
    stage: api.deploymentStage,
    maxBodyBytes: 3_000_000,
    ...props,
  });
  return Template.fromStack(stack);
}

describe('ApiFirewall', () => {
  it('associates a regional web ACL, allowing by default, with the API stage', () => {
    expect(webAcl()).toMatchObject({ Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
    const stageId = logicalId(built, built.stack.api.api.deploymentStage);
    const aclId = logicalId(built, { node: { defaultChild: built.stack.api.firewall.webAcl } });
    const [association] = Object.values(resourcesOfType('AWS::WAFv2::WebACLAssociation'));
    expect(association!.Properties.WebACLArn).toEqual(getAtt(aclId));
    expect(JSON.stringify(association!.Properties.ResourceArn)).toContain(`{"Ref":"${stageId}"}`);
  });

  it('orders its rules: body limit, JSON only, rate, then the managed groups', () => {
    expect(webAcl().Rules.map((r: Rule) => [r.Priority, r.Name])).toEqual([
      [0, 'BodyOverLimit'],
      [1, 'NotJson'],
      [2, 'RatePerSourceIp'],
      [3, 'AWSManagedRulesAmazonIpReputationList'],
      [4, 'AWSManagedRulesCommonRuleSet'],
      [5, 'AWSManagedRulesKnownBadInputsRuleSet'],
    ]);
  });

  describe('rate rule', () => {
    it('answers 429 with Retry-After and the contract’s throttled problem, not 403', () => {
      const rate = rule('RatePerSourceIp');
      expect(rate.Action).toEqual({
        Block: {
          CustomResponse: {
            ResponseCode: 429,
            CustomResponseBodyKey: 'throttled',
            ResponseHeaders: [{ Name: 'Retry-After', Value: String(RATE_WINDOW_SECONDS) }],
          },
        },
      });
      expect(body('throttled')).toMatchObject({
        type: PROBLEMS.throttled.type,
        title: PROBLEMS.throttled.title,
        status: 429,
      });
      expect(webAcl().CustomResponseBodies.throttled.ContentType).toBe('APPLICATION_JSON');
    });

    it('counts per source IP over 5 minutes at the stage’s cdk.json figure, above what the throttle admits', () => {
      const { RateBasedStatement } = rule('RatePerSourceIp').Statement;
      expect(RateBasedStatement).toEqual({ AggregateKeyType: 'IP', EvaluationWindowSec: 300, Limit: 9000 });
      expect(RateBasedStatement.Limit).toBe(built.config.waf.rateLimitPer5Min);
      expect(RateBasedStatement.Limit).toBeGreaterThan(
        built.config.apiThrottle.rateLimit * WAF_WINDOW_SECONDS,
      );
    });

    it('with partner ranges, applies to the partners only, and a low limit to every other source', () => {
      const t = firewallWith({
        partnerCidrs: { dacs: ['203.0.113.10/32'], derms: ['198.51.100.0/28', '2001:db8::/64'] },
        rateLimitPer5Min: 45_000,
        otherRateLimitPer5Min: 300,
      });
      const ipSets = t.findResources('AWS::WAFv2::IPSet');
      expect(
        Object.values(ipSets)
          .map((s) => [s.Properties.Name, s.Properties.Addresses])
          .sort(),
      ).toEqual([
        ['p-dacs-ipv4', ['203.0.113.10/32']],
        ['p-derms-ipv4', ['198.51.100.0/28']],
        ['p-derms-ipv6', ['2001:db8::/64']],
      ]);
      const partners = rule('RatePerSourceIp', t).Statement.RateBasedStatement;
      expect(partners.Limit).toBe(45_000);
      expect(partners.ScopeDownStatement.OrStatement.Statements).toHaveLength(3);
      const others = rule('RateOtherSources', t);
      expect(others.Statement.RateBasedStatement.Limit).toBe(300);
      expect(others.Statement.RateBasedStatement.ScopeDownStatement).toEqual({
        NotStatement: { Statement: partners.ScopeDownStatement },
      });
      expect(others.Action.Block.CustomResponse.ResponseCode).toBe(429);
    });
  });

  describe('body and media type', () => {
    it('answers a Content-Length over the body limit with 413 before API Gateway invokes anything', () => {
      const r = rule('BodyOverLimit');
      expect(r.Action.Block.CustomResponse).toEqual({
        ResponseCode: 413,
        CustomResponseBodyKey: 'too-large',
      });
      expect(r.Statement.RegexMatchStatement.FieldToMatch).toEqual({
        SingleHeader: { Name: 'content-length' },
      });
      const pattern = new RegExp(r.Statement.RegexMatchStatement.RegexString);
      expect(pattern.test(String(built.config.maxBodyBytes))).toBe(false);
      expect(pattern.test(String(built.config.maxBodyBytes + 1))).toBe(true);
      expect(body('too-large')).toMatchObject({ type: PROBLEMS.contentTooLarge.type, status: 413 });
    });

    it('answers a POST that is not JSON with 415', () => {
      const r = rule('NotJson');
      expect(r.Action.Block.CustomResponse).toEqual({ ResponseCode: 415, CustomResponseBodyKey: 'not-json' });
      expect(JSON.stringify(r.Statement)).toContain('"SearchString":"json"');
      expect(body('not-json')).toMatchObject({ type: PROBLEMS.unsupportedMediaType.type, status: 415 });
    });
  });

  describe('managed rule groups', () => {
    const managed = (t?: Template) =>
      webAcl(t).Rules.filter((r: Rule) => r.Statement.ManagedRuleGroupStatement);

    it('start in count mode, with oversize bodies left to the body rule', () => {
      expect(built.config.waf.managedRulesAction).toBe('count');
      for (const r of managed()) expect(r.OverrideAction).toEqual({ Count: {} });
      expect(
        rule('AWSManagedRulesCommonRuleSet').Statement.ManagedRuleGroupStatement.RuleActionOverrides,
      ).toEqual([{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }]);
    });

    it('block when the stage switches them to block', () => {
      const t = firewallWith({ managedRulesAction: 'block' });
      expect(managed(t)).toHaveLength(3);
      for (const r of managed(t)) expect(r.OverrideAction).toEqual({ None: {} });
    });
  });

  describe('logging', () => {
    it('logs to aws-waf-logs-<prefix>-api with the stage retention and the Authorization header redacted', () => {
      const logGroupId = logicalId(built, built.stack.api.firewall.logGroup);
      const group = template().toJSON().Resources[logGroupId];
      expect(group.Properties).toMatchObject({
        LogGroupName: 'aws-waf-logs-dacs-derms-dev-api',
        RetentionInDays: built.config.logRetentionDays,
      });
      template().hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
        ResourceArn: getAtt(logicalId(built, { node: { defaultChild: built.stack.api.firewall.webAcl } })),
        RedactedFields: [{ SingleHeader: { Name: 'authorization' } }],
        LogDestinationConfigs: [Match.objectLike({ 'Fn::Join': Match.anyValue() })],
      });
      // WAF takes the log group ARN without the `:*` that LogGroup.logGroupArn carries.
      const logging = Object.values(resourcesOfType('AWS::WAFv2::LoggingConfiguration'))[0]!;
      expect(JSON.stringify(logging.Properties.LogDestinationConfigs)).not.toContain(':*');
    });
  });
});
