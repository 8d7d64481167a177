import { readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA_NAMES, SCHEMAS } from '#shared/contracts/schemas.ts';
import { DATE_TIME_PATTERN } from '#shared/contracts/validate.ts';
import { MESSAGE_TYPES } from '#shared/flows/registry.ts';
import { renderArtifacts } from '../../../../scripts/generate.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

type Node = Record<string, unknown>;

/** Every subschema, with its location, for structural checks. */
function* subschemas(node: unknown, at = '#'): Generator<[string, Node]> {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const [i, child] of node.entries()) yield* subschemas(child, `${at}/${i}`);
    return;
  }
  yield [at, node as Node];
  for (const [key, child] of Object.entries(node)) {
    if (key !== 'enum' && key !== 'required') yield* subschemas(child, `${at}/${key}`);
  }
}

describe('generated contract files', () => {
  let artifacts: Map<string, string>;
  beforeAll(async () => {
    artifacts = await renderArtifacts();
  }, 60_000);

  it('are up to date with the schemas (run `npm run gen` and commit)', () => {
    for (const [path, content] of artifacts) {
      expect({ path, content: readFileSync(resolve(ROOT, path), 'utf8') }).toEqual({ path, content });
    }
  });

  it('leave nothing stale behind in shared/contracts/generated', () => {
    const expected = [...artifacts.keys()]
      .filter((p) => p.startsWith('shared/contracts/generated/'))
      .map((p) => p.slice('shared/contracts/generated/'.length))
      .sort();
    expect(readdirSync(resolve(ROOT, 'shared/contracts/generated')).sort()).toEqual(expected);
  });

  it('export a type named after every schema', () => {
    const types = artifacts.get('shared/contracts/types.ts') ?? '';
    for (const name of [...SCHEMA_NAMES, 'ControllableDevice', 'AckDevice']) {
      expect(types).toContain(`export interface ${name} {`);
    }
  });

  it('are ESM without require()', () => {
    for (const [path, content] of artifacts) {
      if (path.endsWith('.js')) expect(content).not.toMatch(/\brequire\(/);
    }
  });
});

describe('contract schemas', () => {
  it('have one schema per inbound message type', () => {
    expect(SCHEMA_NAMES.slice(0, MESSAGE_TYPES.length)).toEqual([...MESSAGE_TYPES]);
    for (const name of SCHEMA_NAMES) {
      expect(SCHEMAS[name].title).toBe(name);
      expect(SCHEMAS[name].$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    }
  });

  it.each(MESSAGE_TYPES)('%s closes every object (additionalProperties: false)', (name) => {
    for (const [at, schema] of subschemas(SCHEMAS[name])) {
      if (schema.type === 'object')
        expect({ at, additionalProperties: schema.additionalProperties }).toEqual({
          at,
          additionalProperties: false,
        });
    }
  });

  it.each(MESSAGE_TYPES)('%s bounds every string and array', (name) => {
    for (const [at, schema] of subschemas(SCHEMAS[name])) {
      if (schema.type === 'string' && !schema.enum && !schema.format)
        expect({ at, max: typeof schema.maxLength }).toEqual({ at, max: 'number' });
      if (schema.type === 'array') expect({ at, max: typeof schema.maxItems }).toEqual({ at, max: 'number' });
    }
  });

  it.each(MESSAGE_TYPES)('%s holds every timestamp to RFC 3339 with an offset', (name) => {
    for (const [at, schema] of subschemas(SCHEMAS[name])) {
      if (schema.format === 'date-time')
        expect({ at, pattern: schema.pattern }).toEqual({ at, pattern: DATE_TIME_PATTERN });
    }
  });
});
