/**
 * Shared set-up of the infra tests: the app built exactly as `infra/app.ts` builds it, with `cdk.json`'s
 * context, and bundling skipped unless asked for, so that unit synths stay fast and independent of the
 * handler entry files.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { type CreateAppOptions, createApp, type IntegrationApp } from '#infra/integration-app.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;

/**
 * Valid example values for a deployable stage (`test`, `prod`), as docs/deploy.md passes them with `-c`:
 * cdk.json's blocks for those stages hold placeholders that synth refuses.
 */
export const DEPLOYABLE_CONTEXT: Readonly<Record<string, unknown>> = {
  account: '111122223333',
  dermsBaseUrl: 'https://derms.utility.corp',
  dacsBaseUrl: 'https://dacs.utility.corp',
  alarmEmail: 'integration-oncall@utility.corp',
  paths: '{"DACS_LEGACY_ACK_PATH":"/rest/apis/cross/digitalAssets/legacyMsgAck"}',
};

export interface Synthesized extends IntegrationApp {
  readonly template: Template;
}

/** Builds the app for a stage without bundling (unless `bundle`), and returns its stack's template. */
export function synthStage(stage: string, options: SynthOptions = {}): Synthesized {
  const { bundle, context, cloudFormationValidation, ...appOptions } = options;
  const built = createApp({
    ...appOptions,
    context: {
      ...CDK_JSON_CONTEXT,
      stage,
      ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...context,
    },
  });
  // CDK's built-in CloudFormation schema check doubles the synth time; the nag test runs it.
  const previous = process.env.CDK_VALIDATION;
  if (!cloudFormationValidation) process.env.CDK_VALIDATION = 'false';
  try {
    return { ...built, template: Template.fromStack(built.stack) };
  } finally {
    if (previous === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = previous;
  }
}

export interface SynthOptions extends Omit<CreateAppOptions, 'context'> {
  /** Bundle the functions with esbuild. @default false */
  readonly bundle?: boolean;
  /** Context on top of cdk.json's. @default none */
  readonly context?: Record<string, unknown>;
  /** Run CDK's built-in CloudFormation validation plugin too. @default false */
  readonly cloudFormationValidation?: boolean;
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; [k: string]: unknown }>;

/** Logical id of a construct's CloudFormation resource. */
export function logicalId(built: IntegrationApp, construct: { node: { defaultChild?: unknown } }): string {
  // biome-ignore lint/suspicious/noExplicitAny: CfnElement narrowing for getLogicalId
  return built.stack.getLogicalId(construct.node.defaultChild as any);
}

/** Every API Gateway method keyed `METHOD /path`, with the path rebuilt from the resource tree. */
export function methodsByRoute(template: Template): Record<string, Record<string, unknown>> {
  const resources = template.toJSON().Resources as Resources;
  const pathOf = (ref: unknown): string => {
    const id = (ref as { Ref?: string }).Ref;
    if (id === undefined) return ''; // the root resource (Fn::GetAtt RootResourceId)
    const r = resources[id]!;
    return `${pathOf(r.Properties!.ParentId)}/${r.Properties!.PathPart as string}`;
  };
  const out: Record<string, Record<string, unknown>> = {};
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::ApiGateway::Method') continue;
    out[`${r.Properties!.HttpMethod as string} ${pathOf(r.Properties!.ResourceId)}`] = r.Properties!;
  }
  return out;
}

/** The statements of every IAM policy attached to a role (by the role's logical id). */
export function statementsOfRole(template: Template, roleLogicalId: string): Record<string, unknown>[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

/** Actions of a statement, always as an array. */
export const actionsOf = (s: Record<string, unknown>): string[] =>
  Array.isArray(s.Action) ? (s.Action as string[]) : [s.Action as string];

/** Resources of a statement, always as an array. */
export const resourcesOf = (s: Record<string, unknown>): unknown[] =>
  Array.isArray(s.Resource) ? (s.Resource as unknown[]) : [s.Resource];
