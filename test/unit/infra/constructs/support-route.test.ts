import { FUNCTION_GRANTS } from '#infra/grants.ts';
import type { SupportRouteId } from '#shared/flows/registry.ts';
import { devStage, expectedPairs, getAtt, grantedPairs, roleId, SYNTH_TIMEOUT } from '../fixtures.ts';
import { logicalId, type Synthesized } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

describe('SupportRoute', () => {
  it.each(['syncRequest', 'message'] as SupportRouteId[])(
    '%s: reads only what its view shows, as its row of FUNCTION_GRANTS says',
    (routeId) => {
      const route = built.stack.supportRoutes[routeId];
      expect(grantedPairs(roleId(route.function))).toEqual(
        expectedPairs(FUNCTION_GRANTS.support(routeId), {
          correlation: getAtt(logicalId(built, built.stack.tables.correlation)),
          trace: getAtt(logicalId(built, built.stack.tables.trace)),
        }),
      );
    },
  );

  it('gives the support functions no write, no scan and no index', () => {
    for (const route of Object.values(built.stack.supportRoutes)) {
      const pairs = grantedPairs(roleId(route.function));
      expect(pairs.length).toBeGreaterThan(0);
      expect(pairs.join('\n')).not.toMatch(/Put|Update|Delete|Write|Scan|index/);
    }
  });
});
