import { describe, expect, it, jest } from '@jest/globals';
import { FUNCTION_ROLES, rolesFrom } from '#local/constants.ts';
import { handlerModules, runSweep, warmHandlers } from '#local/functions.ts';
import { apiRoutes } from '#local/host.ts';
import type { LambdaHandler } from '#local/lambda.ts';
import { AUTHORIZER } from '#shared/auth/policy.ts';
import { FLOW_IDS, FLOWS, SWEEP } from '#shared/flows/registry.ts';

describe('handlerModules', () => {
  it("holds every route's module, every flow's process handler and the sweep, each once", () => {
    const routes = apiRoutes();
    const modules = handlerModules(routes);
    expect(new Set(modules).size).toBe(modules.length);
    expect(modules).toEqual(
      expect.arrayContaining([
        ...routes.map((r) => r.module),
        ...FLOW_IDS.map((id) => FLOWS[id].handlers.process),
        SWEEP.handler,
      ]),
    );
    expect(handlerModules([...routes, ...routes])).toEqual(modules);
  });

  it("gives each role's process only its own handlers", () => {
    const routes = apiRoutes();
    expect(handlerModules(routes, ['api'])).toEqual([
      ...new Set([AUTHORIZER.handler, ...routes.map((r) => r.module)]),
    ]);
    for (const id of FLOW_IDS) expect(handlerModules([], [id])).toEqual([FLOWS[id].handlers.process]);
    expect(handlerModules([], ['sweep'])).toEqual([SWEEP.handler]);
    expect(handlerModules(routes, ['optOut'])).not.toContain(AUTHORIZER.handler);
  });
});

describe('rolesFrom', () => {
  it('names one process per role: the API, each flow of the registry, the sweep', () => {
    expect(FUNCTION_ROLES).toEqual(['api', ...FLOW_IDS, 'sweep']);
  });

  it('reads one role, or every role when unset or all, and refuses anything else', () => {
    expect(rolesFrom('optOut')).toEqual(['optOut']);
    expect(rolesFrom('api')).toEqual(['api']);
    expect(rolesFrom(undefined)).toEqual(FUNCTION_ROLES);
    expect(rolesFrom('all')).toEqual(FUNCTION_ROLES);
    expect(() => rolesFrom('optout')).toThrow('LOCAL_FUNCTIONS_ROLE=optout: expected all or one of api, ');
  });
});

describe('warmHandlers', () => {
  it('loads every module and reports each one that cannot be loaded, without failing', async () => {
    const load = jest.fn(async (module: string): Promise<LambdaHandler> => {
      if (module === 'broken.ts') throw new Error('syntax error');
      return async () => undefined;
    });
    const log = jest.fn();
    await warmHandlers(['a.ts', 'broken.ts', 'b.ts'], load, log);
    expect(load.mock.calls.map(([m]) => m)).toEqual(['a.ts', 'broken.ts', 'b.ts']);
    expect(log.mock.calls).toEqual([['[functions] cannot load broken.ts: syntax error']]);
  });
});

describe('runSweep', () => {
  it('invokes the sweep handler with a scheduled event and a 60 s context', async () => {
    const handler = jest.fn<LambdaHandler>(async () => undefined);
    await runSweep(async () => handler, jest.fn());
    const [event, context] = handler.mock.calls[0]!;
    expect(event).toMatchObject({
      'detail-type': 'Scheduled Event',
      resources: [expect.stringMatching(/rule\/local-sweep-handler-schedule$/)],
    });
    expect(context.functionName).toBe('local-sweep-handler');
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(59_000);
  });

  it('logs a failure instead of throwing, so the schedule goes on', async () => {
    const log = jest.fn();
    await runSweep(async () => {
      throw new Error('cannot load');
    }, log);
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/^\[local-sweep-handler\] Error: cannot load/));
  });
});
