import { IntegrationFunction } from '#infra/constructs/integration-function.ts';
import {
  type BundledFunction,
  coldStartSection,
  functionKind,
  functionName,
  INGEST_BYTES_LIMIT,
  lambdaEnvironment,
  median,
  resolveValue,
  sampleInit,
} from '../../../bench/coldstart.ts';
import { synthStage } from '../infra/synth.ts';

const bundle = (name: string, kind: BundledFunction['kind'] = 'process', bytes = 1000): BundledFunction => ({
  name,
  entry: `functions/${name}.ts`,
  kind,
  file: `/tmp/${name}/index.mjs`,
  bytes,
  env: {},
});

describe('cold-start bench', () => {
  it('sees every Lambda function of the stack, since each is an IntegrationFunction', () => {
    const built = synthStage('dev');
    const constructs = built.stack.node.findAll().filter((c) => c instanceof IntegrationFunction);
    const functions = Object.keys(built.template.findResources('AWS::Lambda::Function'));
    expect(constructs).toHaveLength(functions.length);
    expect(constructs.map((c) => functionKind((c as IntegrationFunction).entry)).sort()).toEqual([
      ...Array(5).fill('ingest'),
      // sweep, authorizer, five support routes (sync request, message, search, the two resubmits), two widgets
      ...Array(9).fill('other'),
      ...Array(5).fill('process'),
    ]);
  });

  it('names functions after their entry', () => {
    expect(functionName('functions/optOut/ingest.ts')).toBe('optOut ingest');
    expect(functionName('functions/sweep/handler.ts')).toBe('sweep');
    expect(functionName('functions/support/message.ts')).toBe('support message');
  });

  it('stands in for references with values of their shape, and refuses what it does not know', () => {
    const resources = {
      Q: { Type: 'AWS::SQS::Queue' },
      Pool: { Type: 'AWS::Cognito::UserPool' },
      A: { Type: 'AWS::Cognito::UserPoolClient' },
      B: { Type: 'AWS::Cognito::UserPoolClient' },
    };
    expect(resolveValue({ Ref: 'Q' }, resources, 'us-west-2')).toBe(
      'https://sqs.us-west-2.amazonaws.com/111122223333/Q',
    );
    expect(resolveValue({ Ref: 'Pool' }, resources, 'eu-west-1')).toMatch(/^eu-west-1_\w+$/);
    expect(resolveValue({ 'Fn::Join': [',', [{ Ref: 'A' }, { Ref: 'B' }]] }, resources, 'r')).toBe('a,b');
    expect(() => resolveValue({ Ref: 'Unknown' }, resources, 'r')).toThrow(/no placeholder/);
    const env = lambdaEnvironment(
      'Fn',
      {
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        Environment: { Variables: { QUEUE: { Ref: 'Q' } } },
      },
      resources,
      'us-west-2',
      '/task',
    );
    expect(env).toMatchObject({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x', LAMBDA_TASK_ROOT: '/task' });
    expect(env.QUEUE).toMatch(/^https:\/\/sqs\./);
  });

  it('interleaves one shared baseline series with the function runs, after one untimed baseline run', async () => {
    const order: string[] = [];
    const fns = [bundle('a'), bundle('b'), bundle('c'), bundle('d')];
    const samples = await sampleInit(
      fns,
      bundle('base'),
      2,
      async (fn) => {
        order.push(fn.name);
        return order.length;
      },
      3,
    );
    // The untimed run, then a baseline run before every three function runs and one after the last.
    expect(order).toEqual([
      'base',
      'base',
      'a',
      'b',
      'c',
      'base',
      'd',
      'base',
      'b',
      'c',
      'd',
      'base',
      'a',
      'base',
    ]);
    expect(samples.baseline).toEqual([2, 6, 8, 12, 14]);
    for (const fn of fns) expect(samples.functions.get(fn.name)).toHaveLength(2);
    // Each run over the mean of the baseline runs either side of it (the fake answers the call's position).
    expect(samples.ratios.get('a')).toEqual([3 / 4, 13 / 13]);
    expect(samples.ratios.get('b')).toEqual([4 / 4, 9 / 10]);
    expect(samples.ratios.get('d')).toEqual([7 / 7, 11 / 10]);
  });

  it('takes the middle value as the median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('reports each budget as measured: a miss is a miss, with its reason', () => {
    const section = coldStartSection(
      [
        { fn: bundle('small ingest', 'ingest', INGEST_BYTES_LIMIT - 1), initMs: 12, ratio: 1.2 },
        { fn: bundle('big ingest', 'ingest', INGEST_BYTES_LIMIT), initMs: 13, ratio: 1.21 },
        { fn: bundle('process', 'process', 10 * INGEST_BYTES_LIMIT), initMs: 9, ratio: 0.9 },
      ],
      { bytes: 1, initMs: 10, samples: 40 },
      20,
    );
    const ok = Object.fromEntries(section.budgets.map((b) => [b.name, b.ok]));
    expect(ok).toEqual({
      'small ingest: init ≤ 1.2 × baseline': true,
      'big ingest: init ≤ 1.2 × baseline': false,
      'process: init ≤ 1.2 × baseline': true,
      'small ingest: bundle < 500 KB': true,
      'big ingest: bundle < 500 KB': false,
    });
    for (const budget of section.budgets) expect(Boolean(budget.note)).toBe(!budget.ok);
    expect(section.rows).toContainEqual(
      expect.objectContaining({ name: 'process init (median of 20)', value: 9, baseline: 10 }),
    );
  });
});
