import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { greaterThanPattern } from '#infra/body-limit.ts';
import { PROBLEMS, type ProblemType } from '#shared/handlers/problems.ts';

export interface ApiFirewallProps {
  /** Physical name prefix, e.g. `dacs-derms-dev`; names the web ACL `<prefix>-api`. */
  readonly prefix: string;
  /** The API Gateway stage the web ACL protects. */
  readonly stage: apigw.Stage;
  /**
   * Rate-based rule: requests per source IP per 5 minutes before it answers 429. Size it above what the
   * stage throttle admits in 5 minutes, so that only a flood meets it.
   * @default 20000
   */
  readonly rateLimitPer5Min?: number;
  /**
   * Partner egress ranges (IPv4 or IPv6 CIDR) by partner name. When given, the rate rule above counts
   * requests from these ranges only, and every other source gets {@link otherRateLimitPer5Min}.
   * @default none: the rate rule applies to every source
   */
  readonly partnerCidrs?: Readonly<Record<string, readonly string[]>>;
  /**
   * With partner ranges: requests per source IP per 5 minutes from anywhere else.
   * @default 300
   */
  readonly otherRateLimitPer5Min?: number;
  /**
   * What the AWS managed rule groups do with a match: `count` (observe in the WAF metrics and logs) or
   * `block` (answered 403 through the API's WAF_FILTERED gateway response).
   * @default 'count'
   */
  readonly managedRulesAction?: 'count' | 'block';
  /**
   * The inbound body limit: a `Content-Length` above it is answered 413 at the edge, before API Gateway
   * tries to hand a body to Lambda that might not fit.
   */
  readonly maxBodyBytes: number;
  /**
   * WAF log retention.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** How long the rate rule looks back, and so how long a caller it blocked should wait. */
export const RATE_WINDOW_SECONDS = 300;

/** Headers the WAF log never shows. */
export const REDACTED_HEADERS = ['authorization'] as const;

/** The custom response bodies, by key: the contract's problem documents. */
const BODIES = {
  throttled: problemBody(
    PROBLEMS.throttled,
    `Too many requests from this address; retry after the Retry-After seconds (${RATE_WINDOW_SECONDS}).`,
  ),
  'too-large': problemBody(PROBLEMS.contentTooLarge, 'The body is over the limit (Content-Length).'),
  'not-json': problemBody(PROBLEMS.unsupportedMediaType, 'The body must be application/json.'),
} as const;
type BodyKey = keyof typeof BODIES;

/**
 * A regional WAFv2 web ACL on an API stage, its rules in this order:
 *
 * 0. `BodyOverLimit`: a `Content-Length` over the body limit → 413.
 * 1. `NotJson`: a POST whose `Content-Type` is not JSON → 415. With rule 0 it keeps what reaches Lambda to
 *    JSON (which the gateway validates) within the limit, so no body can overflow the invocation.
 * 2. `RatePerSourceIp` (scoped to the partners' ranges when given) → 429 with `Retry-After`.
 * 3. `RateOtherSources` (only with partner ranges): every other source, at a low limit → 429.
 * 4–6. The AWS managed IP reputation, common and known-bad-inputs groups, counting or blocking.
 *
 * The firewall's answers are the contract's problem documents, sent as `application/json` (a WAF custom
 * response cannot carry another content type). Every rule reports CloudWatch metrics and sampled
 * requests; the full log goes to `aws-waf-logs-<prefix>-api` with the Authorization header redacted.
 *
 * The web ACL and its association are created in `scope`, beside this construct rather than under it, so
 * that they keep the logical IDs they had before this construct was split out of {@link IntegrationApi}.
 */
export class ApiFirewall extends Construct {
  public readonly webAcl: wafv2.CfnWebACL;
  public readonly webAclAssociation: wafv2.CfnWebACLAssociation;
  /** One IP set per partner and IP version. */
  public readonly partnerIpSets: readonly wafv2.CfnIPSet[];
  public readonly logGroup: logs.LogGroup;
  public readonly logging: wafv2.CfnLoggingConfiguration;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    this.partnerIpSets = Object.entries(props.partnerCidrs ?? {}).flatMap(([partner, cidrs]) =>
      this.ipSets(props.prefix, partner, cidrs),
    );
    this.webAcl = new wafv2.CfnWebACL(scope, 'WebAcl', {
      name: `${props.prefix}-api`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`${props.prefix}-api`),
      customResponseBodies: Object.fromEntries(
        Object.entries(BODIES).map(([key, content]) => [key, { contentType: 'APPLICATION_JSON', content }]),
      ),
      rules: rules(props, this.partnerIpSets),
    });
    this.webAclAssociation = new wafv2.CfnWebACLAssociation(scope, 'WebAclAssociation', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // WAF delivers only to log groups whose name starts with aws-waf-logs-.
      logGroupName: `aws-waf-logs-${props.prefix}-api`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.logging = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [logGroupArnWithoutWildcard(this.logGroup)],
      redactedFields: REDACTED_HEADERS.map((name) => ({ singleHeader: { Name: name } })),
    });
  }

  private ipSets(prefix: string, partner: string, cidrs: readonly string[]): wafv2.CfnIPSet[] {
    const byVersion = {
      IPV4: cidrs.filter((c) => !c.includes(':')),
      IPV6: cidrs.filter((c) => c.includes(':')),
    };
    return Object.entries(byVersion)
      .filter(([, addresses]) => addresses.length > 0)
      .map(
        ([version, addresses]) =>
          new wafv2.CfnIPSet(this, `${partner}-${version}`, {
            name: `${prefix}-${partner}-${version.toLowerCase()}`,
            scope: 'REGIONAL',
            ipAddressVersion: version,
            addresses,
            description: `${partner} egress ranges, from cdk.json wafPartnerCidrs`,
          }),
      );
  }
}

function rules(
  props: ApiFirewallProps,
  partnerIpSets: readonly wafv2.CfnIPSet[],
): wafv2.CfnWebACL.RuleProperty[] {
  const partners = fromAnyOf(partnerIpSets);
  const rateRules = partners
    ? [
        ratePerSourceIp('RatePerSourceIp', props.rateLimitPer5Min ?? 20_000, partners),
        ratePerSourceIp('RateOtherSources', props.otherRateLimitPer5Min ?? 300, {
          notStatement: { statement: partners },
        }),
      ]
    : [ratePerSourceIp('RatePerSourceIp', props.rateLimitPer5Min ?? 20_000)];
  const managed = managedRuleGroups(props.managedRulesAction ?? 'count');
  return [bodyOverLimit(props.maxBodyBytes), notJson(), ...rateRules, ...managed].map((rule, priority) => ({
    ...rule,
    priority,
  }));
}

type UnorderedRule = Omit<wafv2.CfnWebACL.RuleProperty, 'priority'>;

function block(
  body: BodyKey,
  status: number,
  headers: Record<string, string> = {},
): wafv2.CfnWebACL.RuleActionProperty {
  const responseHeaders = Object.entries(headers).map(([name, value]) => ({ name, value }));
  return {
    block: {
      customResponse: {
        responseCode: status,
        customResponseBodyKey: body,
        ...(responseHeaders.length > 0 ? { responseHeaders } : {}),
      },
    },
  };
}

function bodyOverLimit(maxBodyBytes: number): UnorderedRule {
  return {
    name: 'BodyOverLimit',
    action: block('too-large', PROBLEMS.contentTooLarge.status),
    statement: {
      regexMatchStatement: {
        regexString: greaterThanPattern(maxBodyBytes),
        fieldToMatch: { singleHeader: { Name: 'content-length' } },
        textTransformations: [{ priority: 0, type: 'NONE' }],
      },
    },
    visibilityConfig: visibility('BodyOverLimit'),
  };
}

function notJson(): UnorderedRule {
  return {
    name: 'NotJson',
    action: block('not-json', PROBLEMS.unsupportedMediaType.status),
    statement: {
      andStatement: {
        statements: [
          {
            byteMatchStatement: {
              searchString: 'POST',
              positionalConstraint: 'EXACTLY',
              fieldToMatch: { method: {} },
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
          {
            notStatement: {
              statement: {
                byteMatchStatement: {
                  searchString: 'json',
                  positionalConstraint: 'CONTAINS',
                  fieldToMatch: { singleHeader: { Name: 'content-type' } },
                  textTransformations: [{ priority: 0, type: 'LOWERCASE' }],
                },
              },
            },
          },
        ],
      },
    },
    visibilityConfig: visibility('NotJson'),
  };
}

function ratePerSourceIp(
  name: string,
  limit: number,
  scopeDownStatement?: wafv2.CfnWebACL.StatementProperty,
): UnorderedRule {
  return {
    name,
    action: block('throttled', PROBLEMS.throttled.status, { 'Retry-After': String(RATE_WINDOW_SECONDS) }),
    statement: {
      rateBasedStatement: {
        limit,
        aggregateKeyType: 'IP',
        evaluationWindowSec: RATE_WINDOW_SECONDS,
        ...(scopeDownStatement ? { scopeDownStatement } : {}),
      },
    },
    visibilityConfig: visibility(name),
  };
}

/** A request from any of the IP sets, or undefined when there are none. */
function fromAnyOf(ipSets: readonly wafv2.CfnIPSet[]): wafv2.CfnWebACL.StatementProperty | undefined {
  const statements = ipSets.map((set) => ({ ipSetReferenceStatement: { arn: set.attrArn } }));
  if (statements.length === 0) return undefined;
  return statements.length === 1 ? statements[0] : { orStatement: { statements } };
}

function managedRuleGroups(action: 'count' | 'block'): UnorderedRule[] {
  return [
    managedRuleGroup('AWSManagedRulesAmazonIpReputationList', action),
    managedRuleGroup('AWSManagedRulesCommonRuleSet', action, [
      // Asset syncs and acks of 10,000 devices run to megabytes; the body limit is enforced by
      // BodyOverLimit and the function (413). This rule would block anything over 8 KB.
      { name: 'SizeRestrictions_BODY', actionToUse: { count: {} } },
    ]),
    managedRuleGroup('AWSManagedRulesKnownBadInputsRuleSet', action),
  ];
}

function managedRuleGroup(
  name: string,
  action: 'count' | 'block',
  ruleActionOverrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[],
): UnorderedRule {
  return {
    name,
    overrideAction: action === 'count' ? { count: {} } : { none: {} },
    statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ruleActionOverrides } },
    visibilityConfig: visibility(name),
  };
}

function visibility(metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty {
  return { cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}

/** `problem+json` content of a custom response: the one problem table's type and title. */
function problemBody(problem: ProblemType, detail: string): string {
  return JSON.stringify({ type: problem.type, title: problem.title, status: problem.status, detail });
}

/** WAF wants the log group ARN without the `:*` that `LogGroup.logGroupArn` ends with. */
function logGroupArnWithoutWildcard(logGroup: logs.LogGroup): string {
  return Stack.of(logGroup).formatArn({
    service: 'logs',
    resource: 'log-group',
    resourceName: logGroup.logGroupName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
