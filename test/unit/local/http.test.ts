import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { send } from '#local/http.ts';

describe('send', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/empty') return send(res, 204);
      if (req.url === '/problem')
        return send(
          res,
          429,
          { status: 429 },
          { 'Content-Type': 'application/problem+json', 'Retry-After': '1' },
        );
      send(res, 201, { ok: 'é' });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  it('writes a body as JSON with its length in bytes', async () => {
    const response = await fetch(`${base}/json`);
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength('{"ok":"é"}')));
    expect(await response.json()).toEqual({ ok: 'é' });
  });

  it('writes no body and no Content-Type when there is no body', async () => {
    const response = await fetch(`${base}/empty`);
    expect(response.status).toBe(204);
    expect(response.headers.get('content-type')).toBeNull();
    expect(await response.text()).toBe('');
  });

  it('lets its headers replace the Content-Type and add others', async () => {
    const response = await fetch(`${base}/problem`);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({ status: 429 });
  });
});
