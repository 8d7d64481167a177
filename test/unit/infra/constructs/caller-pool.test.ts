import { Match } from 'aws-cdk-lib/assertions';
import { CALLERS, flowList } from '#shared/flows/registry.ts';
import { authorizerAllows, devStage, resourcesOfType, SYNTH_TIMEOUT, template } from '../fixtures.ts';
import { methodsByRoute } from '../synth.ts';

beforeAll(() => {
  devStage();
}, SYNTH_TIMEOUT);

describe('CallerPool', () => {
  const clients = () => resourcesOfType('AWS::Cognito::UserPoolClient');
  const clientOf = (caller: string) =>
    Object.values(clients()).find((c) => c.Properties.ClientName === `dacs-derms-dev-${caller}`)!.Properties;

  it('has a resource server with the dacs, derms and support scopes', () => {
    template().hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'integration',
      Scopes: Match.arrayWith(['dacs', 'derms', 'support'].map((s) => Match.objectLike({ ScopeName: s }))),
    });
  });

  it('issues one client-credentials app client per caller, with a secret and only its own scope', () => {
    expect(Object.keys(clients())).toHaveLength(Object.keys(CALLERS).length);
    for (const [caller, scope] of Object.entries(CALLERS)) {
      const client = clientOf(caller);
      expect(client.GenerateSecret).toBe(true);
      expect(client.AllowedOAuthFlows).toEqual(['client_credentials']);
      expect(client.AllowedOAuthScopes).toEqual([scope]);
    }
  });

  it('leaves DERMS no way onto a DACS route, and DACS none onto a DERMS route', () => {
    // What each caller's token can carry (its client's scopes) against what the authorizer allows for it.
    const routes = methodsByRoute(template());
    const reachable = (caller: string) =>
      Object.keys(routes).filter((key) => authorizerAllows(clientOf(caller).AllowedOAuthScopes, key));
    expect(reachable('derms').sort()).toEqual(
      flowList()
        .filter((f) => f.caller === 'derms')
        .map((f) => `POST ${f.route.path}`)
        .sort(),
    );
    expect(reachable('derms').some((k) => k.includes('/v1/dacs/'))).toBe(false);
    expect(reachable('dacs').some((k) => k.includes('/v1/derms/'))).toBe(false);
    expect(reachable('dacs').sort()).toEqual(
      flowList()
        .filter((f) => f.caller === 'dacs')
        .map((f) => `POST ${f.route.path}`)
        .sort(),
    );
    expect(clientOf('derms').AllowedOAuthScopes).not.toContain(CALLERS.dacs);
  });

  it('publishes a Cognito domain for the token endpoint', () => {
    template().resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
  });

  it('keeps the logical ids of the user pool and its clients, so that no refactoring replaces them', () => {
    // A new logical id replaces the resource on deploy: a new pool, new client ids and secrets for every caller.
    const ids = (type: string) => Object.keys(resourcesOfType(type)).sort();
    expect(ids('AWS::Cognito::UserPool')).toEqual(['ApiUserPool5AB2526B']);
    expect(ids('AWS::Cognito::UserPoolClient')).toEqual([
      'ApiUserPooldacsClientF614A85D',
      'ApiUserPooldermsClient93339223',
      'ApiUserPoolsupportClientDBBDF1FE',
    ]);
  });
});
