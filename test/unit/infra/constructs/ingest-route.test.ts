import { FUNCTION_GRANTS } from '#infra/grants.ts';
import { flowList } from '#shared/flows/registry.ts';
import { CORRELATION_TABLE, IDEMPOTENCY_TABLE, TRACE_TABLE } from '#shared/store/tables.ts';
import {
  devStage,
  expectedPairs,
  fnId,
  getAtt,
  grantedPairs,
  objectsUnder,
  ref,
  roleId,
  SYNTH_TIMEOUT,
  template,
} from '../fixtures.ts';
import { actionsOf, logicalId, resourcesOf, type Synthesized, statementsOfRole } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

describe('IngestRoute', () => {
  it('wires ingest environments to the tables, the claim-check bucket and the flow queue', () => {
    for (const flow of flowList()) {
      const route = built.stack.ingestRoutes[flow.id];
      const env = template().toJSON().Resources[fnId(route.function)].Properties.Environment.Variables;
      expect(Object.keys(env)).toEqual(
        expect.arrayContaining([
          TRACE_TABLE.nameEnv,
          IDEMPOTENCY_TABLE.nameEnv,
          'CLAIM_CHECK_BUCKET',
          flow.queue.urlEnv,
        ]),
      );
      expect(env[flow.queue.urlEnv]).toEqual(ref(logicalId(built, built.stack.processors[flow.id].queue)));
      expect(env[CORRELATION_TABLE.nameEnv]).toBeUndefined();
      if (flow.deprecated) expect(env.LEGACY_ACK_MODE).toBe('forward');
      else expect(env.LEGACY_ACK_MODE).toBeUndefined();
    }
  });

  it.each(flowList())(
    '$id: its role holds exactly FUNCTION_GRANTS.ingest, on its own queue and prefix',
    (flow) => {
      const id = (c: { node: { defaultChild?: unknown } }) => logicalId(built, c);
      expect(grantedPairs(roleId(built.stack.ingestRoutes[flow.id].function))).toEqual(
        expectedPairs(FUNCTION_GRANTS.ingest, {
          idempotency: getAtt(id(built.stack.tables.idempotency)),
          trace: getAtt(id(built.stack.tables.trace)),
          queue: getAtt(id(built.stack.processors[flow.id].queue)),
          claimCheck: objectsUnder(id(built.stack.claimCheck.bucket), flow.id),
        }),
      );
    },
  );

  it('lets an ingest function send to its own queue only', () => {
    for (const flow of flowList()) {
      const statements = statementsOfRole(template(), roleId(built.stack.ingestRoutes[flow.id].function));
      const sends = statements.filter((s) => actionsOf(s).includes('sqs:SendMessage'));
      expect(sends.flatMap(resourcesOf)).toEqual([
        getAtt(logicalId(built, built.stack.processors[flow.id].queue)),
      ]);
      expect(statements.some((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')))).toBe(false);
      const correlationId = logicalId(built, built.stack.tables.correlation);
      expect(JSON.stringify(statements)).not.toContain(correlationId);
    }
  });
});
