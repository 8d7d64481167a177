import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { IntegrationApi } from '#infra/constructs/integration-api.ts';
import { type FunctionDefaults, IntegrationFunction } from '#infra/constructs/integration-function.ts';
import { applyGrants, FUNCTION_GRANTS } from '#infra/grants.ts';
import { acknowledge, REASONS } from '#infra/nag.ts';
import type { Scope, SupportRouteId } from '#shared/flows/registry.ts';
import { CORRELATION_TABLE, TRACE_TABLE } from '#shared/store/tables.ts';

export interface SupportRouteProps {
  /** Route id in `SUPPORT_ROUTES`, e.g. `message`; picks its row of `FUNCTION_GRANTS.support`. */
  readonly routeId: SupportRouteId;
  readonly route: {
    readonly method: 'GET';
    readonly path: string;
    readonly scope: Scope;
    readonly handler: string;
  };
  readonly api: IntegrationApi;
  readonly tables: { readonly correlation: dynamodb.ITable; readonly trace: dynamodb.ITable };
  readonly functionDefaults: FunctionDefaults;
  /**
   * Function timeout.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
}

/**
 * A read-only support view: `GET <route>` (scope `integration/support`) → function reading the tables,
 * as far as its row of `FUNCTION_GRANTS.support` (infra/grants.ts) allows.
 */
export class SupportRoute extends Construct {
  public readonly function: IntegrationFunction;
  public readonly method: apigw.Method;

  constructor(scope: Construct, id: string, props: SupportRouteProps) {
    super(scope, id);
    const { tables } = props;
    this.function = new IntegrationFunction(this, 'Handler', {
      ...props.functionDefaults,
      logName: `support/${props.routeId}`,
      entry: props.route.handler,
      description: `support ${props.routeId}: ${props.route.method} ${props.route.path}`,
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: 512,
      environment: {
        [CORRELATION_TABLE.nameEnv]: tables.correlation.tableName,
        [TRACE_TABLE.nameEnv]: tables.trace.tableName,
      },
    });
    applyGrants(this.function.function, FUNCTION_GRANTS.support(props.routeId), {
      correlation: tables.correlation,
      trace: tables.trace,
    });
    acknowledge(this.function.function, 'Serverless-LambdaDLQ', REASONS.synchronousInvocation);
    this.method = props.api.addRoute({
      method: props.route.method,
      path: props.route.path,
      scope: props.route.scope,
      handler: this.function.function,
    });
  }
}
