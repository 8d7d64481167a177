import {
  builderPayloadValues,
  configuredSecrets,
  defaultScanOptions,
  scanText,
} from '#test/reliability/logScan.ts';

const options = defaultScanOptions({});
const JWT =
  'eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJkYWNzLWxvY2FsIiwidG9rZW5fdXNlIjoiYWNjZXNzIn0.c2lnbmF0dXJl';
const info = (fields: Record<string, unknown>) =>
  JSON.stringify({
    level: 'INFO',
    message: 'Message accepted',
    service: 'dacs-derms-integration',
    ...fields,
  });

describe('scanText', () => {
  it('finds nothing in what the integration may log: identifiers, enums, its own reasons', () => {
    const log = [
      info({
        flow: 'assetSync',
        messageId: 'm-1',
        businessKey: 'SR-1',
        syncRequestId: 'SR-1',
        reason: 'ENROLL',
      }),
      info({ message: 'Token refused', reason: 'Token expired at 2026-12-01T05:00:00.000Z' }),
      info({ flow: 'optOut', optOutId: 'OO-1', deviceId: 'D-1', nicId: 'NIC-1', headEndSystem: 'LEC-HES-1' }),
      '[api] GET /v1/messages/m-1: authorizer failed: Cannot verify tokens',
      '{"detail":"/locationInfo/controllableDevices/0/networkAddress must match format \\"ipv4\\""}',
    ].join('\n');
    expect(scanText(log, options)).toEqual({ lines: 5, skipped: 0, findings: [] });
  });

  it('finds a planted bearer token and a planted payload field, on their lines', () => {
    const log = [
      info({ messageId: 'm-1' }),
      `[api] POST /v1/dacs/asset-sync Authorization: Bearer ${JWT}`,
      info({ message: 'Message dead-lettered', reason: 'DERMS rejected: {"networkAddress":"10.9.9.9"}' }),
    ].join('\n');
    const { findings, lines } = scanText(log, options);
    expect(lines).toBe(3);
    expect(findings).toEqual([
      { line: 2, rule: 'bearer token', what: expect.stringMatching(/^eyJraW…\(\d+ chars\)$/) },
      { line: 3, rule: 'payload field', what: 'networkAddress' },
    ]);
  });

  it('finds an unsigned token, a client secret, credential JSON and a private key', () => {
    const log = [
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
      '[derms] token request with local-secret',
      '{"DERMS_CREDENTIALS":"{\\"clientId\\":\\"x\\",\\"clientSecret\\":\\"s3cr3t\\"}"}',
      `{"kty":"RSA","n":"abc","e":"AQAB","d":"${'x'.repeat(64)}"}`,
    ].join('\n');
    expect(scanText(log, options).findings.map((f) => [f.line, f.rule])).toEqual([
      [1, 'bearer token'],
      [2, 'client secret'],
      [3, 'credentials'],
      [4, 'credentials'],
    ]);
  });

  it('finds payload values of the suite’s messages, and keys in an echoed (escaped) body', () => {
    const log = [
      info({ message: 'Delivery will be retried', reason: 'DERMS answered 400: Customer away from home' }),
      info({ error: { responseBody: '{"comments":"x"}' } }),
    ].join('\n');
    expect(scanText(log, options).findings).toEqual([
      { line: 1, rule: 'payload value', what: '"Customer away from home"' },
      { line: 2, rule: 'payload field', what: 'comments' },
    ]);
  });

  it('does not scan the start banner, which documents the default secret', () => {
    const log = [
      'DACS ⇄ DERMS integration, local stack',
      '  Local clients       secret "local-secret"',
      'Local stack ready',
      'local-secret',
    ].join('\n');
    expect(scanText(log, options)).toEqual({
      lines: 4,
      skipped: 3,
      findings: [{ line: 4, rule: 'client secret', what: expect.any(String) }],
    });
  });
});

describe('what it looks for', () => {
  it('takes every configured secret: the local clients’ and the receivers’ clientSecrets', () => {
    expect(
      configuredSecrets({
        LOCAL_CLIENT_SECRET: 'all-clients',
        DACS_LOCAL_CLIENT_SECRET: 'dacs-only',
        DERMS_CREDENTIALS: JSON.stringify({ clientId: 'c', clientSecret: 'derms-secret' }),
        OTHER: 'ignored-value',
      }),
    ).toEqual(['local-secret', 'all-clients', 'dacs-only', 'derms-secret']);
  });

  it('knows the free text and personal data of the suite’s message builders', () => {
    expect(builderPayloadValues()).toEqual(
      expect.arrayContaining([
        'Customer away from home',
        'Customer travelling; house unoccupied.',
        '10.20.30.41',
      ]),
    );
  });
});
