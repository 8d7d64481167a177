/**
 * The dev stage the construct tests assert on, and the helpers they share. `devStage()` synthesizes on
 * first use and keeps the result; Jest loads modules afresh for every test file, so that is one synth
 * per file. Call it from `beforeAll` (with a long timeout), not from a test.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import type { FunctionGrants } from '#infra/grants.ts';
import { policyFor } from '#shared/auth/policy.ts';
import {
  actionsOf,
  DEPLOYABLE_CONTEXT,
  logicalId,
  resourcesOf,
  type Synthesized,
  statementsOfRole,
  synthStage,
} from './synth.ts';

/** How long a `beforeAll` that synthesizes may take. */
export const SYNTH_TIMEOUT = 120_000;

let dev: Synthesized | undefined;

/** The dev stage, synthesized without bundling, once per test file. */
export function devStage(): Synthesized {
  dev ??= synthStage('dev');
  return dev;
}

let prod: Synthesized | undefined;

/** The prod stage with valid example values, synthesized without bundling, once per test file. */
export function prodStage(): Synthesized {
  prod ??= synthStage('prod', { context: { ...DEPLOYABLE_CONTEXT } });
  return prod;
}

export const template = (): Template => devStage().template;
export const resourcesOfType = (type: string) => template().findResources(type);
/** Logical id of an IntegrationFunction's Lambda function, and of its role. */
export const fnId = (f: { function: { node: { defaultChild?: unknown } } }) =>
  logicalId(devStage(), f.function);
export const roleId = (f: { role: { node: { defaultChild?: unknown } } }) => logicalId(devStage(), f.role);
export const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
export const ref = (id: string) => ({ Ref: id });

/** Every statement of a role's policies, with its actions and resources as arrays. */
export const grantsOf = (roleLogicalId: string) =>
  statementsOfRole(template(), roleLogicalId).map((s) => ({
    actions: actionsOf(s),
    resources: resourcesOf(s),
  }));

/**
 * What a role may do, as `action resource` pairs, leaving out writing its own log group and X-Ray (which
 * every function has): compared against its row of FUNCTION_GRANTS.
 */
export const grantedPairs = (roleLogicalId: string): string[] =>
  grantsOf(roleLogicalId)
    .flatMap(({ actions, resources }) =>
      actions.flatMap((a) => resources.map((r) => `${a} ${JSON.stringify(r)}`)),
    )
    .filter((pair) => !/^(logs|xray):/.test(pair))
    .sort();

/** The pairs a FUNCTION_GRANTS row stands for, given the template value of each resource it names. */
export const expectedPairs = (
  grants: FunctionGrants,
  resources: Partial<Record<keyof FunctionGrants, unknown>>,
): string[] =>
  (Object.entries(grants) as [keyof FunctionGrants, readonly string[]][])
    .flatMap(([key, actions]) => actions.map((a) => `${a} ${JSON.stringify(resources[key])}`))
    .sort();

/** The template value of an object ARN under a bucket prefix. */
export const objectsUnder = (bucketLogicalId: string, prefix: string) => ({
  'Fn::Join': ['', [getAtt(bucketLogicalId), `/${prefix}/*`]],
});

/** Alarm names of a template, without the stage prefix (`dacs-derms-<stage>-`). */
export const alarmNames = (t: Template, stage = 'dev'): string[] =>
  Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) =>
    (a.Properties.AlarmName as string).replace(`dacs-derms-${stage}-`, ''),
  );

/** Whether the authorizer's policy for a token carrying `scopes` allows the route `METHOD /path`. */
export const authorizerAllows = (scopes: readonly string[], route: string): boolean => {
  const [verb, path] = route.split(' ') as [string, string];
  const arn = `arn:aws:execute-api:eu-west-1:123456789012:api/dev/${verb}${path.replace(/\{[^}]+\}/g, '*')}`;
  const statement = policyFor(scopes, arn).Statement[0] as { Effect: string; Resource: string | string[] };
  return statement.Effect === 'Allow' && [statement.Resource].flat().includes(arn);
};
