import { createServer, type Server } from 'node:http';
import { jest } from '@jest/globals';
import { createTokenService, generateSigningKey, localClients } from '#local/auth.ts';
import { createApiHost } from '#local/host.ts';
import { readPost, SUPPORT_PAGE_CSP, serveSupportPage } from '#local/supportPage.ts';
import type { SearchQuery } from '#shared/support/search.ts';
import type { WidgetSources } from '#shared/support/widgets/widgets.ts';

let server: Server;
let base: string;
const resubmitMessage = jest.fn(async (messageId: string, _by: string) => ({
  messageId,
  status: 'RESUBMITTED' as const,
}));
const searchMessages = jest.fn(async (query: SearchQuery) => ({
  items:
    query.deviceId === 'D100' || query.flow === 'optOut'
      ? [
          {
            messageId: 'M-1',
            flow: 'optOut',
            businessKey: 'OO-1',
            keys: { deviceId: 'D100' },
            receivedAt: '2026-12-01T10:00:00.000Z',
            state: 'DEAD_LETTERED',
            attempts: 1,
            lastError: 'DERMS answered 400',
          },
        ]
      : [],
}));
const sources: WidgetSources = {
  parseSearchQuery: (params) => ({ ...params, limit: Number(params.limit) }) as SearchQuery,
  searchMessages,
  resubmitMessage,
  getSyncRequestStatus: async () => undefined,
};

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const SUPPORT = basic('support-local', 'local-secret');

beforeAll(async () => {
  const tokens = createTokenService({
    signingKey: await generateSigningKey(),
    issuer: 'http://local',
    clients: localClients(),
  });
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://local');
    await serveSupportPage({ tokens, sources }, req, res, {
      method: req.method ?? 'GET',
      url,
      body: Buffer.concat(chunks),
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const address = server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}`;
});

afterAll(() => new Promise<void>((done) => server.close(() => done())));
beforeEach(() => jest.clearAllMocks());

const post = (form: Record<string, string>, authorization = SUPPORT) =>
  fetch(`${base}/support/`, {
    method: 'POST',
    headers: { Authorization: authorization, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });

describe('local support page', () => {
  it.each([
    ['no credentials', undefined],
    ['a wrong secret', basic('support-local', 'nope')],
    ['an unknown client', basic('someone', 'local-secret')],
    ["another caller's client", basic('dacs-local', 'local-secret')],
  ])('answers 401 to %s', async (_case, authorization) => {
    const res = await fetch(`${base}/support/`, {
      headers: authorization ? { Authorization: authorization } : {},
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="support"/);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(searchMessages).not.toHaveBeenCalled();
  });

  it('shows both widgets to the support client, with a strict content policy', async () => {
    const res = await fetch(`${base}/support/`, { headers: { Authorization: SUPPORT } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(SUPPORT_PAGE_CSP);
    const page = await res.text();
    expect(page).toContain('<section id="find-message">');
    expect(page).toContain('<h4>optOut: 1 dead-lettered</h4>');
    expect(page).toContain('data-confirm="Resubmit optOut message M-1 (OO-1)?');
  });

  it('runs a posted search through the Find widget with the form values', async () => {
    const res = await post({ _widget: 'findMessage', _payload: '{"action":"search"}', deviceId: 'D100' });
    const page = await res.text();
    expect(searchMessages).toHaveBeenCalledWith(expect.objectContaining({ deviceId: 'D100', limit: 20 }));
    expect(page).toContain('1 message, newest first.');
  });

  it('resubmits as the signed-in client', async () => {
    const res = await post({ _widget: 'deadLetters', _payload: '{"action":"resubmit","messageId":"M-1"}' });
    expect(res.status).toBe(200);
    expect(resubmitMessage).toHaveBeenCalledWith('M-1', 'support-local');
    expect(await res.text()).toContain('Resubmitted M-1');
  });

  it('refuses a malformed post with 400 and does nothing', async () => {
    expect((await post({ _widget: 'deadLetters', _payload: '{not json' })).status).toBe(400);
    expect((await post({ _widget: 'other', _payload: '{}' })).status).toBe(400);
    expect((await post({ _widget: 'deadLetters', _payload: '[1]' })).status).toBe(400);
    expect(resubmitMessage).not.toHaveBeenCalled();
  });

  it('redirects /support to /support/ and knows no other page', async () => {
    const res = await fetch(`${base}/support`, { headers: { Authorization: SUPPORT }, redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([308, '/support/']);
    expect((await fetch(`${base}/support/x`, { headers: { Authorization: SUPPORT } })).status).toBe(404);
  });

  it('reads a post as the widget event the dashboard would send', () => {
    const body = Buffer.from('_widget=findMessage&_payload=%7B%22action%22%3A%22search%22%7D&deviceId=D%261');
    expect(readPost(body)).toEqual({
      widget: 'findMessage',
      event: { action: 'search', widgetContext: { forms: { all: { deviceId: 'D&1' } } } },
    });
  });
});

describe('local API host', () => {
  it('serves the support page at /support/, behind the support credentials', async () => {
    const tokens = createTokenService({
      signingKey: await generateSigningKey(),
      issuer: 'http://local',
      clients: localClients(),
    });
    const host = createApiHost({
      routes: [],
      tokens,
      loadHandler: async () => {
        throw new Error('no handler is loaded for the support page');
      },
      openApiFile: '/nonexistent/openapi.json',
    });
    await new Promise<void>((done) => host.listen(0, '127.0.0.1', () => done()));
    try {
      const { port } = host.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/support/`);
      expect([res.status, res.headers.get('www-authenticate')]).toEqual([
        401,
        'Basic realm="support", charset="UTF-8"',
      ]);
    } finally {
      await new Promise<void>((done) => host.close(() => done()));
    }
  });
});
