/** Stops what `globalSetup.ts` started, last started first. */
export default async function globalTeardown(): Promise<void> {
  const services = globalThis.__integrationServices ?? [];
  globalThis.__integrationServices = undefined;
  for (const service of [...services].reverse()) await service.stop();
}
