import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { readStageConfig, type StageConfig } from '#infra/config.ts';
import { IntegrationStack } from '#infra/integration-stack.ts';

export interface CreateAppOptions {
  /** Context, as `-c key=value` would give it; the CLI passes cdk.json's context through the environment. */
  readonly context?: Record<string, unknown>;
  /** Cloud assembly directory. @default the CLI's, or a temporary directory */
  readonly outdir?: string;
  /** Repository root that handler entries are resolved against. @default this repository */
  readonly projectRoot?: string;
}

export interface IntegrationApp {
  readonly app: App;
  readonly stack: IntegrationStack;
  readonly config: StageConfig;
}

/**
 * The CDK app: one stack for the stage named by the `stage` context, in the stage's account and region
 * (a stage without an account, `dev`, takes the CLI's), with the cdk-nag AwsSolutions and Serverless packs
 * as validation plugins, so any unacknowledged finding fails the synth.
 */
export function createApp(options: CreateAppOptions = {}): IntegrationApp {
  const app = new App({ context: options.context, outdir: options.outdir });
  const config = readStageConfig((key) => app.node.tryGetContext(key));
  const stack = new IntegrationStack(app, `DacsDermsIntegration-${config.stage}`, {
    config,
    projectRoot: options.projectRoot,
    description: `DACS <-> Edge DERMS integration (${config.stage})`,
    env: { account: config.account ?? process.env.CDK_DEFAULT_ACCOUNT, region: config.region },
    terminationProtection: config.retainData,
  });
  Tags.of(app).add('project', 'dacs-derms-integration');
  Tags.of(app).add('stage', config.stage);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { app, stack, config };
}
