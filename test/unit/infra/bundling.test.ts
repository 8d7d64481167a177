import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AUTHORIZER } from '#shared/auth/policy.ts';
import { flowList, SUPPORT_ROUTES, SWEEP } from '#shared/flows/registry.ts';
import { SUPPORT_WIDGETS } from '#shared/support/widgets/catalog.ts';
import { REPO_ROOT, synthStage } from './synth.ts';

const ENTRIES = [
  ...flowList().flatMap((f) => [f.handlers.ingest, f.handlers.process]),
  ...Object.values(SUPPORT_ROUTES).map((r) => r.handler),
  ...Object.values(SUPPORT_WIDGETS).map((w) => w.handler),
  SWEEP.handler,
  AUTHORIZER.handler,
];

describe('bundling', () => {
  it('fails with the registry entry name when a handler entry file is missing', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'infra-entry-'));
    try {
      cpSync(path.join(REPO_ROOT, 'package-lock.json'), path.join(root, 'package-lock.json'));
      expect(() => synthStage('dev', { bundle: true, projectRoot: root })).toThrow(
        /Handler entry functions\/\w+\/\w+\.ts \(named in the flow registry\) does not exist/,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  // The one real bundling synth: esbuild on every entry named in the registry, as `cdk synth` does.
  it('bundles every entry named in the registry into an ESM asset with a source map', () => {
    const missing = ENTRIES.filter((e) => !existsSync(path.join(REPO_ROOT, e)));
    expect(missing).toEqual([]);
    const outdir = mkdtempSync(path.join(tmpdir(), 'infra-bundle-'));
    mkdirSync(outdir, { recursive: true });
    try {
      const built = synthStage('dev', { bundle: true, outdir });
      const functions = Object.values(built.template.findResources('AWS::Lambda::Function'));
      expect(functions).toHaveLength(ENTRIES.length);
      const assets = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
      expect(assets).toHaveLength(ENTRIES.length);
      for (const asset of assets) {
        const files = readdirSync(path.join(outdir, asset));
        expect(files).toEqual(expect.arrayContaining(['index.mjs', 'index.mjs.map']));
      }
      for (const f of functions) expect(f.Properties.Handler).toBe('index.handler');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 600_000);
});
