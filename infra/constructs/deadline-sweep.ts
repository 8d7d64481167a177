import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type FunctionDefaults, IntegrationFunction } from '#infra/constructs/integration-function.ts';
import { applyGrants, FUNCTION_GRANTS } from '#infra/grants.ts';
import { acknowledge } from '#infra/nag.ts';
import { CORRELATION_TABLE } from '#shared/store/tables.ts';

export interface DeadlineSweepProps {
  /** Entry file from the registry's `SWEEP.handler`. */
  readonly entry: string;
  /** How often the sweep runs, from the registry's `SWEEP.rateMinutes`. */
  readonly rateMinutes: number;
  readonly correlationTable: dynamodb.ITable;
  /** The queue that consolidates acknowledgements, and the env var its URL travels in. */
  readonly consolidationQueue: sqs.IQueue;
  readonly consolidationQueueUrlEnv: string;
  readonly functionDefaults: FunctionDefaults;
  /**
   * Extra settings: tunables of `TUNABLES` (shared/config/tunables.ts), checked by infra/config.ts.
   * @default none
   */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * The deadline sweep: an EventBridge schedule runs a function that queries the sparse `byDeadline` index
 * for sync requests past their deadline and queues their consolidation. It queries that index, updates
 * items of the correlation table to claim them and sends to the consolidation queue
 * (`FUNCTION_GRANTS.sweep`); nothing else. A failed run is never retried, neither by EventBridge nor by
 * Lambda: the next run, one interval later, finds the same requests, and a retry could overlap it.
 */
export class DeadlineSweep extends Construct {
  public readonly function: IntegrationFunction;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: DeadlineSweepProps) {
    super(scope, id);
    this.function = new IntegrationFunction(this, 'Sweep', {
      ...props.functionDefaults,
      logName: 'sweep',
      entry: props.entry,
      description: 'Deadline sweep: queues the consolidation of every overdue sync request',
      // Shorter than the schedule, so two sweeps never overlap.
      timeout: Duration.seconds(Math.min(50, props.rateMinutes * 60 - 10)),
      memorySize: 512,
      retryAttempts: 0,
      environment: {
        [CORRELATION_TABLE.nameEnv]: props.correlationTable.tableName,
        [props.consolidationQueueUrlEnv]: props.consolidationQueue.queueUrl,
        ...props.environment,
      },
    });
    applyGrants(this.function.function, FUNCTION_GRANTS.sweep, {
      correlation: props.correlationTable,
      queue: props.consolidationQueue,
    });
    this.rule = new events.Rule(this, 'Schedule', {
      description: `Deadline sweep every ${props.rateMinutes} minute(s)`,
      schedule: events.Schedule.rate(Duration.minutes(props.rateMinutes)),
      targets: [new targets.LambdaFunction(this.function.function, { retryAttempts: 0 })],
    });
    this.acknowledgeNoDeadLetters();
  }

  /** A tick carries nothing to keep: what a failed run would have done, the next run does. */
  private acknowledgeNoDeadLetters(): void {
    const reason =
      'The schedule event carries no data: a failed sweep loses nothing, because the next run one interval ' +
      'later queries the same overdue requests. It is deliberately not retried (a retry could overlap the ' +
      'next run); the sweep-not-running and fault-rate alarms report failures instead of a dead-letter queue.';
    acknowledge(this.rule, 'Serverless-EventBusDLQ', reason);
    acknowledge(this.function.function, 'Serverless-LambdaDLQ', reason);
    acknowledge(this.function.function, 'Serverless-LambdaAsyncFailureDestination', reason);
  }
}
