/** A scripted HTTP receiver standing in for DERMS or DACS in integration tests. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedCall {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface Receiver {
  url: string;
  calls: ReceivedCall[];
  /** Answers queued here are used first, in order; then 200. */
  answers: ScriptedAnswer[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const calls: ReceivedCall[] = [];
  const answers: ScriptedAnswer[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf-8');
      const answer = answers.shift() ?? { status: 200, body: '{"ok":true}' };
      if (answer.status < 300)
        calls.push({ path: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : undefined });
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...(answer.headers ?? {}) });
      res.end(answer.body ?? '{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    answers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
