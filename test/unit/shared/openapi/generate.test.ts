import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { SCHEMA_NAMES } from '#shared/contracts/schemas.ts';
import { CALLERS, flowList, SUPPORT_ROUTES } from '#shared/flows/registry.ts';
import { buildOpenApiDocument, SUPPORT_VIEWS, TOKEN_URL } from '#shared/openapi/generate.ts';
import { assetSyncRequest } from '#test/helpers/messages.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

// biome-ignore lint/suspicious/noExplicitAny: navigating a JSON document in assertions
type Obj = Record<string, any>;

const doc = buildOpenApiDocument() as Obj;
const problemCodes = (operation: Obj) =>
  Object.keys(operation.responses)
    .filter((status) => Number(status) >= 400)
    .map(Number);

/** Every `$ref` in the document. */
function refs(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(refs);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === '$ref' && typeof value === 'string' ? [value] : refs(value),
  );
}

describe('buildOpenApiDocument', () => {
  it('is OpenAPI 3.1 with the JSON Schema 2020-12 dialect', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(doc.info).toEqual(
      expect.objectContaining({ title: expect.any(String), version: expect.any(String) }),
    );
  });

  it('declares OAuth 2.0 client credentials with one scope per caller', () => {
    expect(doc.components.securitySchemes.oauth2).toEqual(
      expect.objectContaining({
        type: 'oauth2',
        flows: {
          clientCredentials: {
            tokenUrl: TOKEN_URL,
            scopes: Object.fromEntries(Object.values(CALLERS).map((scope) => [scope, expect.any(String)])),
          },
        },
      }),
    );
    expect(TOKEN_URL).toBe('/oauth2/token');
  });

  it('has exactly the registry routes', () => {
    const expected = [
      ...flowList().map((f) => `${f.route.method} ${f.route.path}`),
      ...Object.values(SUPPORT_ROUTES).map((r) => `${r.method} ${r.path}`),
    ].sort();
    const actual = Object.entries(doc.paths as Obj)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(actual).toEqual(expected);
  });

  describe.each(flowList().map((f) => [f.id, f] as const))('flow %s', (_id, flow) => {
    const operation = doc.paths[flow.route.path][flow.route.method.toLowerCase()] as Obj;

    it("requires the caller's scope", () => {
      expect(operation.security).toEqual([{ oauth2: [flow.scope] }]);
    });

    it('takes its message schema as the body', () => {
      expect(operation.requestBody).toEqual({
        required: true,
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${flow.messageType}` } } },
      });
    });

    it('answers 202 Accepted and the problems the contract lists', () => {
      expect(operation.responses['202'].content['application/json'].schema).toEqual({
        $ref: '#/components/schemas/Accepted',
      });
      const expected = [400, 401, 403, 409, 413, 415, 422, 429, 503];
      if (flow.deprecated) expected.push(410);
      expect(problemCodes(operation).sort()).toEqual(expected.sort());
    });

    it('marks only the legacy route deprecated, with Deprecation and Link headers', () => {
      expect(Boolean(operation.deprecated)).toBe(flow.id === 'legacyAck');
      const headers = Object.keys(operation.responses['202'].headers ?? {});
      expect(headers).toEqual(flow.id === 'legacyAck' ? ['Deprecation', 'Link'] : []);
    });
  });

  describe.each(['syncRequest', 'message'] as const)('support view %s', (id) => {
    const route = SUPPORT_ROUTES[id];
    const operation = doc.paths[route.path].get as Obj;

    it('requires the support scope and answers 200 with its view, or 404', () => {
      expect(operation.security).toEqual([{ oauth2: [CALLERS.support] }]);
      expect(operation.parameters).toEqual([
        expect.objectContaining({ name: route.pathParameter, in: 'path' }),
      ]);
      expect(operation.responses['200'].content['application/json'].schema).toEqual({
        $ref: `#/components/schemas/${SUPPORT_VIEWS[id]}`,
      });
      expect(problemCodes(operation).sort()).toEqual([401, 403, 404, 429, 503]);
    });
  });

  it('describes the search: every lookup key as a query parameter, a page of traces, 400 for a bad query', () => {
    const operation = doc.paths[SUPPORT_ROUTES.search.path].get as Obj;
    expect(operation.security).toEqual([{ oauth2: [CALLERS.support] }]);
    const names = (operation.parameters as Obj[]).map((p) => p.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'deviceId',
        'optOutId',
        'unavailabilityId',
        'syncRequestId',
        'eventExternalIdentifier',
        'dacsMessageId',
        'state',
        'flow',
        'from',
        'to',
        'limit',
        'cursor',
      ]),
    );
    expect(operation.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/MessageTracePage',
    });
    expect(problemCodes(operation).sort()).toEqual([400, 401, 403, 429, 503]);
  });

  it('describes the resubmit: POST, 202, 404 and 409', () => {
    const operation = doc.paths[SUPPORT_ROUTES.resubmit.path].post as Obj;
    expect(operation.security).toEqual([{ oauth2: [CALLERS.support] }]);
    expect(operation.responses['202'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Resubmitted',
    });
    expect(problemCodes(operation).sort()).toEqual([401, 403, 404, 409, 429, 503]);
  });

  it('answers problems as application/problem+json', () => {
    for (const response of Object.values(doc.components.responses as Obj)) {
      expect(Object.keys(response.content)).toEqual(['application/problem+json']);
    }
  });

  it('carries every contract schema and resolves every $ref', () => {
    for (const name of SCHEMA_NAMES) expect(doc.components.schemas[name]).toBeDefined();
    for (const ref of refs(doc)) {
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, token) => (node as Obj | undefined)?.[token], doc);
      expect({ ref, resolved: target !== undefined }).toEqual({ ref, resolved: true });
    }
    expect(JSON.stringify(doc)).not.toContain('urn:dacs-derms');
  });

  it('validates a message with its component schema as-is', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ $id: 'openapi.json', components: doc.components });
    const validate = ajv.getSchema('openapi.json#/components/schemas/AssetSyncRequest')!;
    expect(validate(assetSyncRequest())).toBe(true);
    expect(validate({ ...assetSyncRequest(), extra: 1 })).toBe(false);
  });

  it('is what docs/openapi.json holds', () => {
    expect(JSON.parse(readFileSync(resolve(ROOT, 'docs/openapi.json'), 'utf8'))).toEqual(doc);
  });
});
