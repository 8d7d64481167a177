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

  it('gives the support views no write, no scan and no index', () => {
    for (const routeId of ['syncRequest', 'message'] as const) {
      const pairs = grantedPairs(roleId(built.stack.supportRoutes[routeId].function));
      expect(pairs.length).toBeGreaterThan(0);
      expect(pairs.join('\n')).not.toMatch(/Put|Update|Delete|Write|Scan|index/);
    }
  });

  it('lets the search only Query indexes: the trace indexes and the correlation byDevice index', () => {
    const pairs = grantedPairs(roleId(built.stack.supportRoutes.search.function));
    expect(pairs).toHaveLength(5);
    for (const pair of pairs) expect(pair).toMatch(/^dynamodb:Query .*\/index\/by/);
    expect(pairs.join('\n')).not.toMatch(/byDeadline/);
  });

  it('lets the resubmit read and update traces, send to the flow queues and read claim checks, nothing else', () => {
    const pairs = grantedPairs(roleId(built.stack.supportRoutes.resubmit.function));
    const actions = [...new Set(pairs.map((p) => p.split(' ')[0]))].sort();
    expect(actions).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem', 's3:GetObject', 'sqs:SendMessage']);
    expect(pairs.filter((p) => p.startsWith('sqs:SendMessage'))).toHaveLength(5);
    expect(pairs.join('\n')).not.toMatch(/Scan|index|DeadLetterQueue/);
  });
});
