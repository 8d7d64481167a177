/**
 * Micro-benchmarks of the hot paths, reported as ratios against a baseline measured in the same run
 * (parsing and serialising the same 10,000-device message), so the figures mean something on any
 * machine. Nothing here asserts: it reports.
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
import type { BenchRow, BenchSection } from './section.ts';

const DEVICES = 10_000;

/** Median milliseconds of `rounds` runs after two warm-ups. */
export function medianMs(fn: () => unknown, rounds: number): number {
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

function benchMessage() {
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
  const devices: DeviceState[] = request.locationInfo.controllableDevices.map((d, i) => ({
    deviceId: d.deviceId,
    expected: d.registrationAction,
    ...(i % 10 === 0 ? {} : { reportedStatus: i % 7 === 0 ? 'FAILED' : 'REGISTERED' }),
  }));
  return { request, text: JSON.stringify(request), devices };
}

export async function measureMicro(): Promise<BenchSection> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 20);
  const { request, text, devices } = benchMessage();
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
  const baselineName = 'JSON.parse + JSON.stringify of the same message';
  const baseline = medianMs(() => JSON.stringify(JSON.parse(text)), rounds);
  const rows: BenchRow[] = Object.entries(cases).map(([name, fn]) => ({
    name: `${name} (median of ${rounds})`,
    value: medianMs(fn, rounds),
    unit: 'ms',
    baseline,
    baselineName,
  }));
  return {
    title: 'Hot paths (in process)',
    method:
      `A 10,000-device AssetSyncRequest (${(text.length / 1024 / 1024).toFixed(2)} MiB): schema and business-rule ` +
      'validation, the canonical JSON + SHA-256 of the idempotency payload hash, and building the consolidated ' +
      `DACS acknowledgement of 10,000 devices; the median of ${rounds} runs after two warm-ups, against ` +
      'parsing and serialising the same message.',
    rows,
    budgets: [],
  };
}
