import path from 'node:path';
import { build } from 'esbuild';
import { flowList } from '#shared/flows/registry.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

/** The project files an entry's bundle holds (esbuild's metafile; the construct bundles the same graph). */
async function bundledInputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [path.join(ROOT, entry)],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    mainFields: ['module', 'main'],
    write: false,
    outfile: 'index.mjs',
    metafile: true,
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

describe('ingest entry points', () => {
  it.each(flowList().map((f) => [f.id, f.handlers.ingest, f.messageType] as const))(
    '%s ingest carries its own flow’s validator and no other',
    async (_id, entry, messageType) => {
      const validators = (await bundledInputs(entry)).filter((p) =>
        p.startsWith('shared/contracts/generated/'),
      );
      expect(validators).toEqual([`shared/contracts/generated/${messageType}.js`]);
    },
    60_000,
  );
});
