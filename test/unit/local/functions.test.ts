import { describe, expect, it, jest } from '@jest/globals';
import { handlerModules, runSweep, warmHandlers } from '#local/functions.ts';
import { apiRoutes } from '#local/host.ts';
import type { LambdaHandler } from '#local/lambda.ts';
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
