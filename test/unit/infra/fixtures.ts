/**
 * The dev stage the construct tests assert on, and the helpers they share. `devStage()` synthesizes on
 * first use and keeps the result; Jest loads modules afresh for every test file, so that is one synth
 * per file. Call it from `beforeAll` (with a long timeout), not from a test.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { policyFor } from '#shared/auth/policy.ts';
import { logicalId, type Synthesized, synthStage } from './synth.ts';

/** How long a `beforeAll` that synthesizes may take. */
export const SYNTH_TIMEOUT = 120_000;

let dev: Synthesized | undefined;

/** The dev stage, synthesized without bundling, once per test file. */
export function devStage(): Synthesized {
  dev ??= synthStage('dev');
  return dev;
}

export const template = (): Template => devStage().template;
export const resourcesOfType = (type: string) => template().findResources(type);
/** Logical id of an IntegrationFunction's Lambda function, and of its role. */
export const fnId = (f: { function: { node: { defaultChild?: unknown } } }) =>
  logicalId(devStage(), f.function);
export const roleId = (f: { role: { node: { defaultChild?: unknown } } }) => logicalId(devStage(), f.role);
export const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
export const ref = (id: string) => ({ Ref: id });

/** Whether the authorizer's policy for a token carrying `scopes` allows the route `METHOD /path`. */
export const authorizerAllows = (scopes: readonly string[], route: string): boolean => {
  const [verb, path] = route.split(' ') as [string, string];
  const arn = `arn:aws:execute-api:eu-west-1:123456789012:api/dev/${verb}${path.replace(/\{[^}]+\}/g, '*')}`;
  const statement = policyFor(scopes, arn).Statement[0] as { Effect: string; Resource: string | string[] };
  return statement.Effect === 'Allow' && [statement.Resource].flat().includes(arn);
};
