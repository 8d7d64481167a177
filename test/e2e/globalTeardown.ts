/** Stops the stack `globalSetup.ts` started (it stops its function processes, simulators and emulators). */
import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const child = globalThis.__e2eStack;
  globalThis.__e2eStack = undefined;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
  const dbPath = process.env.E2E_DYNAMODB_PATH;
  if (dbPath) rmSync(dbPath, { recursive: true, force: true });
}
