import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { createApp } from '#infra/integration-app.ts';
import { CDK_JSON_CONTEXT, DEPLOYABLE_CONTEXT } from './synth.ts';

const context = (stage: string) => ({
  ...CDK_JSON_CONTEXT,
  ...(stage === 'dev' ? {} : DEPLOYABLE_CONTEXT),
  stage,
  'aws:cdk:bundling-stacks': [],
});

interface Report {
  pluginReports: {
    pluginName: string;
    violations: { ruleName: string; violatingConstructs?: { constructPath: string }[] }[];
  }[];
}

/** Synthesizes the way `cdk synth` does (validation plugins on) and returns the validation report, if any. */
function synthWithValidation(stage: string, mutate?: (app: ReturnType<typeof createApp>) => void) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'infra-nag-'));
  const built = createApp({ context: context(stage), outdir });
  mutate?.(built);
  let error: unknown;
  try {
    built.app.synth();
  } catch (e) {
    error = e;
  }
  const reportFile = path.join(outdir, 'validation-report.json');
  const report: Report | undefined = existsSync(reportFile)
    ? JSON.parse(readFileSync(reportFile, 'utf8'))
    : undefined;
  rmSync(outdir, { recursive: true, force: true });
  return { built, error, report };
}

const findings = (report: Report | undefined) =>
  (report?.pluginReports ?? []).flatMap((r) =>
    r.violations.map(
      (v) =>
        `${r.pluginName}: ${v.ruleName} at ${v.violatingConstructs?.map((c) => c.constructPath).join(', ')}`,
    ),
  );

const PACKS = (): NagPack[] => [new AwsSolutionsChecks(), new ServerlessChecks()];

/** Every acknowledgement in the tree: where it was made, the rule id and its reason. */
function acknowledgements(root: IConstruct): { path: string; rule: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([rule, reason]) => ({
          path: c.node.path,
          rule: rule.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** What a pack finds with every acknowledgement ignored, as `rule@constructPath`. */
function unacknowledgedFindings(root: IConstruct): string[] {
  return PACKS().flatMap((pack) => {
    (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    return pack
      .validateScope(root)
      .violations.flatMap((v) => (v.violatingResources ?? []).map((r) => `${v.ruleName}@${r.constructPath}`));
  });
}

describe('cdk-nag AwsSolutions and Serverless', () => {
  it.each(['dev', 'test', 'prod'])(
    '%s: synthesizes with zero unacknowledged findings and no template warnings',
    (stage) => {
      const { built, error, report } = synthWithValidation(stage);
      expect(findings(report)).toEqual([]);
      expect(error).toBeUndefined();
      // The same check, straight from the packs, so a failure names the rule and the construct.
      for (const pack of PACKS())
        expect(pack.validateScope(built.app).violations.map((v) => v.ruleName)).toEqual([]);
    },
    120_000,
  );

  it('acknowledges only findings that exist, each on the resource it names, each with a reason', () => {
    const { app } = createApp({ context: context('prod') });
    const found = unacknowledgedFindings(app);
    const acks = acknowledgements(app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.length).toBeGreaterThan(40);
      const covers = found.some((f) => {
        const [rule, at] = f.split('@') as [string, string];
        return rule === ack.rule && (at === ack.path || at.startsWith(`${ack.path}/`));
      });
      expect([ack.rule, ack.path, covers]).toEqual([ack.rule, ack.path, true]);
    }
  }, 120_000);

  it('acknowledges no table index and no whole bucket: the grants name the byDeadline index and a flow prefix', () => {
    const { app } = createApp({ context: context('dev') });
    const rules = acknowledgements(app).map((a) => a.rule);
    expect(rules.filter((r) => r.includes('/index/'))).toEqual([]);
    expect(rules.filter((r) => /Arn>\/\*\]$/.test(r))).toEqual([]);
  });

  it('fails the synth on an unacknowledged finding of either pack', () => {
    const { error, report } = synthWithValidation('dev', ({ stack }) => {
      new sqs.Queue(stack, 'UnreviewedQueue'); // no DLQ, no TLS enforcement
    });
    for (const rule of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']) {
      expect(String(error)).toMatch(new RegExp(`ValidationFailed[\\s\\S]*${rule}`));
      expect(findings(report)).toEqual(
        expect.arrayContaining([expect.stringMatching(new RegExp(`${rule} at .*UnreviewedQueue`))]),
      );
    }
  }, 120_000);
});
