import { existsSync } from 'node:fs';
import path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  LogLevel,
  NodejsFunction,
  type NodejsFunctionProps,
  OutputFormat,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeXrayWildcard } from '#infra/nag.ts';

/** Repository root: entry files in the registry are relative to it. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** What every function of a stack shares; constructs take it as `functionDefaults`. */
export type FunctionDefaults = Pick<
  IntegrationFunctionProps,
  'powertools' | 'logRetention' | 'logRemovalPolicy' | 'projectRoot' | 'logGroupPrefix'
>;

/** Powertools settings shared by every function of a stage. */
export interface PowertoolsSettings {
  readonly serviceName: string;
  readonly metricsNamespace: string;
  readonly logLevel: string;
}

export interface IntegrationFunctionProps {
  /** Entry file relative to the repository root, as named in the flow registry. */
  readonly entry: string;
  /** One line on what the function does; becomes the Lambda description. */
  readonly description: string;
  readonly powertools: PowertoolsSettings;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 1024 */
  readonly memorySize?: number;
  /** @default none beyond Powertools and source maps */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Log group name, so that support finds the logs by name (`/dacs-derms-prod/optOut/ingest`).
   * @default `<logGroupPrefix>/<logName>` when both are set, else a generated name
   */
  readonly logGroupName?: string;
  /** Prefix of the log group name. @default none */
  readonly logGroupPrefix?: string;
  /** Last part of the log group name, e.g. `optOut/ingest`. @default none */
  readonly logName?: string;
  /** @default RemovalPolicy.DESTROY (the log group goes with the stack) */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Repository root that `entry` is resolved against.
   * @default REPO_ROOT
   */
  readonly projectRoot?: string;
  /**
   * Concurrency reserved for this function, which is also the most it may use.
   * @default none (the account's unreserved pool)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Retries of an asynchronous invocation (Lambda's own, 0–2).
   * @default Lambda's default of 2
   */
  readonly retryAttempts?: number;
}

/** The runtime every function uses. */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;

// ESM output still has to load the CommonJS parts of some dependencies, which call `require`.
const ESM_REQUIRE_BANNER =
  "import { createRequire as __integrationCreateRequire } from 'node:module';" +
  'const require = __integrationCreateRequire(import.meta.url);';

/**
 * A `NodejsFunction` with the house defaults: nodejs24.x on arm64, ESM, minified with source maps,
 * bundled by the local esbuild (never Docker), X-Ray active, Powertools environment, its own log group
 * with a retention and a data-protection policy ({@link LOG_DATA_IDENTIFIERS}), and a role that holds
 * nothing but what callers grant (from infra/grants.ts) plus writing to that log group (no
 * AWSLambdaBasicExecutionRole).
 *
 * When the stack is synthesized without bundling (unit tests set `aws:cdk:bundling-stacks` to `[]`) a
 * missing entry file is tolerated, so infra tests do not depend on the handlers. A bundling synth fails
 * with the registry's entry name.
 */
export class IntegrationFunction extends Construct {
  /** The entry file, relative to the repository root, as named in the flow registry. */
  public readonly entry: string;
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: IntegrationFunctionProps) {
    super(scope, id);
    this.entry = props.entry;
    const root = props.projectRoot ?? REPO_ROOT;
    const entry = path.join(root, props.entry);
    const bundling = Stack.of(this).bundlingRequired;
    const entryExists = existsSync(entry);
    if (!entryExists && bundling) {
      throw new Error(
        `Handler entry ${props.entry} (named in the flow registry) does not exist under ${root}`,
      );
    }

    const logGroupName =
      props.logGroupName ??
      (props.logGroupPrefix && props.logName ? `${props.logGroupPrefix}/${props.logName}` : undefined);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
      dataProtectionPolicy: logDataProtectionPolicy(),
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      description: props.description,
      runtime: RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 1024,
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      retryAttempts: props.retryAttempts,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.powertools.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.powertools.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: props.powertools.logLevel,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      ...(entryExists ? bundledCode(entry, root) : notBundled()),
    });
    acknowledgeXrayWildcard(this.role.node.findChild('DefaultPolicy'));
  }
}

/**
 * What must never be readable in a function's logs, masked by CloudWatch Logs as it arrives (the handlers
 * log identifiers only; this is the net under that rule): bearer tokens and JWTs, client secrets, private
 * keys and AWS secret keys, and customer contact data (e-mail addresses, US phone numbers). A masked value
 * reads `****`; only principals with `logs:Unmask` see it.
 */
export const LOG_DATA_IDENTIFIERS: readonly logs.DataIdentifier[] = [
  new logs.CustomDataIdentifier('BearerToken', '[Bb]earer\\s+[A-Za-z0-9._~+/-]{16,}=*'),
  new logs.CustomDataIdentifier('Jwt', 'eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]*'),
  new logs.CustomDataIdentifier('ClientSecret', '[Cc]lient_?[Ss]ecret["\']?\\s*[:=]\\s*["\']?[^\\s"\',}]+'),
  logs.DataIdentifier.AWSSECRETKEY,
  logs.DataIdentifier.OPENSSHPRIVATEKEY,
  logs.DataIdentifier.PGPPRIVATEKEY,
  logs.DataIdentifier.PKCSPRIVATEKEY,
  logs.DataIdentifier.PUTTYPRIVATEKEY,
  logs.DataIdentifier.EMAILADDRESS,
  logs.DataIdentifier.PHONENUMBER_US,
];

function logDataProtectionPolicy(): logs.DataProtectionPolicy {
  return new logs.DataProtectionPolicy({
    name: 'integration-logs',
    description:
      'Masks tokens, secrets, private keys and customer contact data (infra/constructs/integration-function.ts)',
    identifiers: [...LOG_DATA_IDENTIFIERS],
  });
}

/** The entry bundled by the local esbuild: ESM, minified, with source maps and the SDK inside. */
function bundledCode(entry: string, projectRoot: string): NodejsFunctionProps {
  return {
    entry,
    projectRoot,
    depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
    bundling: {
      format: OutputFormat.ESM,
      mainFields: ['module', 'main'],
      banner: ESM_REQUIRE_BANNER,
      minify: true,
      sourceMap: true,
      // The SDK is bundled so that the version the tests ran against is the one deployed.
      bundleAwsSDK: true,
      forceDockerBundling: false,
      logLevel: LogLevel.WARNING,
    },
  };
}

/** Only reachable when bundling is skipped: no code is produced for this stack anyway. */
function notBundled(): NodejsFunctionProps {
  return {
    code: lambda.Code.fromInline('export const handler = () => { throw new Error("not bundled"); };'),
    handler: 'index.handler',
  };
}
