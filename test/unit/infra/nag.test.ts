import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createApp } from '#infra/integration-app.ts';
import { CDK_JSON_CONTEXT } from './synth.ts';

const context = (stage: string) => ({ ...CDK_JSON_CONTEXT, stage, 'aws:cdk:bundling-stacks': [] });

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

describe('cdk-nag AwsSolutions', () => {
  it.each(['dev', 'prod'])(
    '%s: synthesizes with zero unacknowledged findings and no template warnings',
    (stage) => {
      const { built, error, report } = synthWithValidation(stage);
      expect(findings(report)).toEqual([]);
      expect(error).toBeUndefined();
      // The same check, straight from the pack, so a failure names the rule and the construct.
      const direct = new AwsSolutionsChecks().validateScope(built.app);
      expect(direct.violations.map((v) => v.ruleName)).toEqual([]);
    },
    120_000,
  );

  it('fails the synth on an unacknowledged finding', () => {
    const { error, report } = synthWithValidation('dev', ({ stack }) => {
      new sqs.Queue(stack, 'UnreviewedQueue'); // no DLQ, no TLS enforcement
    });
    expect(String(error)).toMatch(/ValidationFailed[\s\S]*AwsSolutions-SQS3/);
    expect(findings(report)).toEqual(
      expect.arrayContaining([expect.stringMatching(/AwsSolutions-SQS3 at .*UnreviewedQueue/)]),
    );
  }, 120_000);
});
