/**
 * cdk-nag acknowledgements. Each one is applied by the construct that owns the resource, on the
 * narrowest scope that holds the finding, and carries its reason here so that the list can be reviewed
 * in one place.
 */

import type { CfnResource } from 'aws-cdk-lib';
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges one cdk-nag finding on one construct (and its children). */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** The token cdk-nag prints for `Fn::GetAtt <resource>.Arn` inside a finding id. */
export function arnToken(resource: IConstruct): string {
  const cfn = (resource.node.defaultChild ?? resource) as CfnResource;
  return `<${Stack.of(resource).getLogicalId(cfn)}.Arn>`;
}

export const REASONS = {
  xray:
    'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions; ' +
    'the wildcard is the only form AWS accepts. Added by `tracing: ACTIVE`.',
  tableIndexes:
    'Query on the secondary indexes of this table (the byDeadline sweep index); the wildcard stays under ' +
    'the table ARN.',
  bucketObjects:
    'Claim-check objects are keyed by message id, which is not known at deploy time; the wildcard stays ' +
    'under this one bucket.',
} as const;

/** The wildcard X-Ray statement that active tracing adds to a function role. */
export function acknowledgeXrayWildcard(role: IConstruct): void {
  acknowledge(role, 'AwsSolutions-IAM5[Resource::*]', REASONS.xray);
}
