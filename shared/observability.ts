/**
 * Powertools logger, metrics and tracer, one of each per process. Every metric carries the `flow`
 * dimension and is emitted as a single metric, so that flows sharing one process (the local stack)
 * never mix dimensions.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { optionalString } from '#shared/config/env.ts';
import type { FlowId } from '#shared/flows/registry.ts';

const SERVICE = optionalString('POWERTOOLS_SERVICE_NAME', 'dacs-derms-integration');
const NAMESPACE = optionalString('POWERTOOLS_METRICS_NAMESPACE', 'DacsDermsIntegration');

export const logger = new Logger({ serviceName: SERVICE });
export const metrics = new Metrics({ serviceName: SERVICE, namespace: NAMESPACE });
export const tracer = new Tracer({ serviceName: SERVICE });

/** The custom metrics the dashboard and alarms read. */
export const METRIC = {
  MessageReceived: 'MessageReceived',
  MessageDelivered: 'MessageDelivered',
  DeliveryRetried: 'DeliveryRetried',
  /**
   * A delivery attempt that failed, retried or dead-lettered (not a deliberate wait, not a FIFO skip). The
   * process handler reports it as a partial batch failure, not a Lambda error, so only this metric shows
   * it. Alarmed per flow (infra/constructs/monitoring.ts).
   */
  DeliveryFailed: 'DeliveryFailed',
  MessageDeadLettered: 'MessageDeadLettered',
  MessageSuperseded: 'MessageSuperseded',
  EndToEndLatency: 'EndToEndLatency',
  SyncRequestsOverdue: 'SyncRequestsOverdue',
  LegacyAckReceived: 'LegacyAckReceived',
  UncorrelatedAck: 'UncorrelatedAck',
  ConsolidatedAckSent: 'ConsolidatedAckSent',
  FollowUpAckSent: 'FollowUpAckSent',
  /** A message was queued (and answered 202) but its idempotency record could not be completed. */
  IngestBookkeepingFailed: 'IngestBookkeepingFailed',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Emits one metric now, with the flow (and optional extra) dimensions. */
export function countMetric(
  name: MetricName,
  flow: FlowId | 'sweep',
  value = 1,
  unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count,
  extraDimensions: Record<string, string> = {},
): void {
  const single = metrics.singleMetric();
  single.addDimension('flow', flow);
  for (const [key, dimension] of Object.entries(extraDimensions)) single.addDimension(key, dimension);
  single.addMetric(name, unit, value);
}

export { MetricUnit };
