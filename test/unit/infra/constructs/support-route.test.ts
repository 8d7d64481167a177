import { devStage, roleId, SYNTH_TIMEOUT, template } from '../fixtures.ts';
import { actionsOf, logicalId, resourcesOf, type Synthesized, statementsOfRole } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

describe('SupportRoute', () => {
  it('gives the support functions read-only access to the correlation and trace tables', () => {
    const tableIds = [built.stack.tables.correlation, built.stack.tables.trace].map((t) =>
      logicalId(built, t),
    );
    for (const route of Object.values(built.stack.supportRoutes)) {
      const statements = statementsOfRole(template(), roleId(route.function));
      const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      for (const s of dynamo) {
        expect(actionsOf(s).filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
        for (const r of resourcesOf(s))
          expect(tableIds.some((id) => JSON.stringify(r).includes(id))).toBe(true);
      }
      expect(dynamo.length).toBeGreaterThan(0);
    }
  });
});
