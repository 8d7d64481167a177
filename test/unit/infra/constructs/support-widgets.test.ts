import { FLOW_IDS } from '#shared/flows/registry.ts';
import { SUPPORT_WIDGET_IDS, SUPPORT_WIDGETS } from '#shared/support/widgets/catalog.ts';
import { devStage, fnId, getAtt, grantedPairs, roleId, SYNTH_TIMEOUT, template } from '../fixtures.ts';
import { logicalId, type Synthesized } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

const widgetRole = (widget: (typeof SUPPORT_WIDGET_IDS)[number]) =>
  roleId(built.stack.supportWidgets.functions[widget]);

describe('SupportWidgets', () => {
  it.each(SUPPORT_WIDGET_IDS)(
    '%s: may do exactly what the support routes whose work it does may do, together',
    (widget) => {
      const routes = SUPPORT_WIDGETS[widget].routes.map((r) => built.stack.supportRoutes[r].function);
      const union = [...new Set(routes.flatMap((f) => grantedPairs(roleId(f))))];
      expect(union.length).toBeGreaterThan(0);
      // Dead letters also lists the refused consolidated acks: a Query of the byDeadline index.
      const correlation = JSON.stringify(getAtt(logicalId(built, built.stack.tables.correlation)));
      const extra =
        widget === 'deadLetters'
          ? [`dynamodb:Query {"Fn::Join":["",[${correlation},"/index/byDeadline"]]}`]
          : [];
      expect(grantedPairs(widgetRole(widget))).toEqual([...new Set([...union, ...extra])].sort());
    },
  );

  it('lets Find a message read only: no write, no queue, no scan', () => {
    const pairs = grantedPairs(widgetRole('findMessage'));
    expect(pairs.every((p) => /^dynamodb:(Query|GetItem) /.test(p))).toBe(true);
    expect(pairs.join('\n')).toContain(
      JSON.stringify(getAtt(logicalId(built, built.stack.tables.correlation))),
    );
  });

  it("lets Dead letters send to every flow's queue and update traces, and never scan or delete", () => {
    const pairs = grantedPairs(widgetRole('deadLetters'));
    for (const flow of FLOW_IDS) {
      const queue = logicalId(built, built.stack.processors[flow].queue);
      expect(pairs).toContain(`sqs:SendMessage ${JSON.stringify(getAtt(queue))}`);
    }
    const trace = JSON.stringify(getAtt(logicalId(built, built.stack.tables.trace)));
    expect(pairs).toContain(`dynamodb:UpdateItem ${trace}`);
    expect(pairs.join('\n')).not.toMatch(/Scan|Delete|dynamodb:Put|BatchWrite|sqs:ReceiveMessage/);
  });

  it('puts both widgets on the dashboard, each calling its own function', () => {
    const dashboards = Object.values(template().findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]!.Properties.DashboardBody);
    for (const widget of SUPPORT_WIDGET_IDS) {
      const arn = JSON.stringify(getAtt(fnId(built.stack.supportWidgets.functions[widget])));
      // The body is a Fn::Join of JSON text with the function ARN spliced in.
      expect(body).toContain(arn);
      expect(body).toContain(SUPPORT_WIDGETS[widget].title);
    }
    expect(body.match(/\\"type\\":\\"custom\\"/g)).toHaveLength(SUPPORT_WIDGET_IDS.length);
  });
});
