/**
 * Micro-benchmarks of the hot paths, reported as ratios against a baseline measured in the same run
 * (parsing and serialising the same 10,000-device message), so the figures mean something on any
 * machine. `npm run bench`. Nothing here asserts: it reports.
 *
 *   validate     schema + business rules of a 10,000-device AssetSyncRequest (ingest hot path)
 *   hash         canonical JSON + SHA-256 of the same body (idempotency payload hash)
 *   consolidate  building the DACS acknowledgement of 10,000 devices
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildConsolidatedAck, type DeviceState } from '#shared/consolidation/index.ts';
import { validateMessage } from '#shared/contracts/validate.ts';
import { canonicalJson } from '#shared/handlers/ingest.ts';
import { assetSyncRequest, controllableDevice } from '#test/helpers/messages.ts';

const DEVICES = 10_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);

const request = assetSyncRequest({
  locationInfo: {
    controllableDevices: Array.from({ length: DEVICES }, (_, i) =>
      controllableDevice({
        deviceId: `D${String(i).padStart(6, '0')}`,
        nicId: `NIC-${i}`,
        networkAddress: `10.0.${i >> 8}.${i & 255}`,
      }),
    ),
  },
});
const text = JSON.stringify(request);
const devices: DeviceState[] = request.locationInfo.controllableDevices.map((d, i) => ({
  deviceId: d.deviceId,
  expected: d.registrationAction,
  ...(i % 10 === 0 ? {} : { reportedStatus: i % 7 === 0 ? 'FAILED' : 'REGISTERED' }),
}));

/** Median milliseconds of `rounds` runs after two warm-ups. */
function median(fn: () => unknown, rounds = ROUNDS): number {
  fn();
  fn();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const baseline = median(() => JSON.stringify(JSON.parse(text)));
const cases: Record<string, () => unknown> = {
  validate: () => {
    const result = validateMessage('AssetSyncRequest', JSON.parse(text));
    if (!result.ok) throw new Error('the benchmark message must be valid');
  },
  hash: () => createHash('sha256').update(canonicalJson(request)).digest('hex'),
  consolidate: () =>
    buildConsolidatedAck({ syncRequestId: 'SR-BENCH', deadline: '2026-12-02T00:00:00Z' }, devices, [
      { sequence: 1, ackDateTime: '2026-12-01T14:05:00Z', ackType: 'ERROR' },
    ]),
};

console.log(
  `10,000-device AssetSyncRequest: ${(text.length / 1024 / 1024).toFixed(2)} MiB, ${ROUNDS} rounds, median`,
);
console.log(`baseline (JSON.parse + JSON.stringify): ${baseline.toFixed(1)} ms = 1.00`);
for (const [name, fn] of Object.entries(cases)) {
  const ms = median(fn);
  console.log(
    `${name.padEnd(12)} ${ms.toFixed(1).padStart(7)} ms = ${(ms / baseline).toFixed(2)} × baseline`,
  );
}
