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
  claimCheckObjects: (flowId: string) =>
    `Claim-check objects are keyed <flowId>/<messageId>.json, and the message id is only known at run ` +
    `time; the wildcard covers the ${flowId}/ prefix of this one bucket, the objects of this function's flow.`,
  resubmitClaimChecks:
    'A resubmit reads the claim check of a dead letter of any flow, keyed <flowId>/<messageId>.json, to find ' +
    "a FIFO copy's message group: both are known only at run time. The wildcard covers the claim-check " +
    'objects of this one bucket, read only.',
  synchronousInvocation:
    'Invoked synchronously (API Gateway waits for the answer): a dead-letter target only applies to ' +
    'asynchronous invocations. A failure is answered to the caller at once (503, nothing accepted).',
  queueInvocation:
    'Invoked by its SQS event source mapping, which waits for the answer: a dead-letter target only applies ' +
    "to asynchronous invocations. A failed message returns to the queue; the handler's own dead-lettering " +
    "and the queue's redrive policy (maxReceiveCount) put it in the flow's DLQ, with its reason in the trace.",
  sqsMappingDestination:
    "An SQS event source mapping takes no on-failure destination (that is for stream sources); the queue's " +
    "redrive policy to the flow's dead-letter queue, and the handler's own dead-lettering, do that job.",
} as const;

/** The wildcard X-Ray statement that active tracing adds to a function role. */
export function acknowledgeXrayWildcard(role: IConstruct): void {
  acknowledge(role, 'AwsSolutions-IAM5[Resource::*]', REASONS.xray);
}
