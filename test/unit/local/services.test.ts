import { spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { stopChild, type Watched, waitUntilDynamoDbAnswers, watchChild } from '#local/services.ts';

const node = (script: string) => spawn(process.execPath, ['-e', script], { stdio: 'pipe' });
/** 'close' comes after the last output; 'exit' may come before it. */
const closed = (watched: Watched) => new Promise((done) => watched.child.once('close', done));

describe('watchChild', () => {
  it('keeps the output and how the process ended', async () => {
    const watched = watchChild(node("console.log('out'); console.error('err'); process.exitCode = 3"));
    await closed(watched);
    expect(watched.exited).toEqual({ code: 3, signal: null });
    expect(watched.output).toContain('out');
    expect(watched.output).toContain('err');
  });

  it('keeps only the last 4000 characters of output', async () => {
    const watched = watchChild(node("process.stdout.write('a'.repeat(5000) + 'END')"));
    await closed(watched);
    expect(watched.output).toHaveLength(4000);
    expect(watched.output.endsWith('END')).toBe(true);
  });

  it('counts a process that cannot be started as exited, with the reason in the output', async () => {
    const watched = watchChild(spawn('/nonexistent/java', [], { stdio: 'pipe' }));
    await watched.exit;
    expect(watched.exited?.code).toBe(-1);
    expect(watched.output).toContain('ENOENT');
  });
});

describe('stopChild', () => {
  it('stops a running process with SIGTERM and resolves once it is gone', async () => {
    const watched = watchChild(node('setInterval(() => {}, 1000)'));
    await stopChild(watched);
    expect(watched.exited).toEqual({ code: null, signal: 'SIGTERM' });
    await stopChild(watched); // and again is a no-op
  });
});

describe('waitUntilDynamoDbAnswers', () => {
  it('fails at once with the output when DynamoDB Local has exited', async () => {
    const watched = watchChild(node("console.error('no java here'); process.exitCode = 1"));
    await closed(watched);
    await expect(waitUntilDynamoDbAnswers(watched, 'http://127.0.0.1:1', 1, 30_000)).rejects.toThrow(
      /DynamoDB Local exited \(code 1, signal null\) before answering on port 1\.[\s\S]*no java here/,
    );
  });

  it('fails after the start timeout while nothing answers', async () => {
    const watched = watchChild(node('setInterval(() => {}, 1000)'));
    try {
      await expect(waitUntilDynamoDbAnswers(watched, 'http://127.0.0.1:1', 1, 0)).rejects.toThrow(
        'DynamoDB Local did not answer on port 1 within 0 ms',
      );
    } finally {
      await stopChild(watched);
    }
  });
});
