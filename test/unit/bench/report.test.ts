import { percentile, summarise } from '../../../bench/load.ts';
import {
  formatNumber,
  type Machine,
  previousBlocks,
  renderReport,
  renderSection,
  type SectionResult,
  selectSections,
} from '../../../bench/report.ts';

const machine: Machine = {
  cores: 2,
  memoryGiB: 8,
  cpuModel: 'Test CPU',
  node: 'v24.0.0',
  platform: 'linux x64',
  loadAverage: 0.5,
  date: '2026-12-01T10:00:00.000Z',
};

const result = (name: string, ok = true): SectionResult => ({
  name,
  seconds: 12,
  section: {
    title: `Section ${name}`,
    method: `How ${name} was measured.`,
    rows: [{ name: 'figure', value: 30, unit: 'ms', baseline: 20, baselineName: 'plain' }],
    budgets: [
      { name: `${name} budget`, measured: '1.50 ×', limit: '≤ 2 ×', ok, ...(ok ? {} : { note: 'why' }) },
    ],
  },
});

describe('selectSections', () => {
  const all = [{ name: 'micro' }, { name: 'e2e' }, { name: 'coldstart' }];

  it('runs every section when BENCH_ONLY is unset or empty', () => {
    expect(selectSections(all, undefined)).toEqual(all);
    expect(selectSections(all, ' ')).toEqual(all);
  });

  it('runs the named sections in their listed order', () => {
    expect(selectSections(all, 'coldstart, micro').map((s) => s.name)).toEqual(['micro', 'coldstart']);
  });

  it('names the sections there are when BENCH_ONLY names an unknown one', () => {
    expect(() => selectSections(all, 'micro,nope')).toThrow(
      'BENCH_ONLY names no section nope; the sections are micro, e2e, coldstart',
    );
  });
});

describe('renderSection', () => {
  it('sets each figure beside its baseline with the ratio, and the budgets met or missed', () => {
    const text = renderSection(result('e2e', false), machine);
    expect(text).toContain('| figure | 30.0 ms | 20.0 ms (plain) | 1.50 × |');
    expect(text).toContain('| e2e budget | 1.50 × | ≤ 2 × | **missed**: why |');
    expect(text).toContain('2 cores (Test CPU) · 8.0 GiB · Node v24.0.0');
    expect(text.startsWith('<!-- bench:section e2e -->')).toBe(true);
    expect(text.endsWith('<!-- /bench:section e2e -->')).toBe(true);
  });

  it('says why a section failed', () => {
    const text = renderSection({ name: 'e2e', seconds: 3, error: 'port 3600 in use' }, machine);
    expect(text).toContain('**This section failed:** port 3600 in use');
  });
});

describe('renderReport', () => {
  it('counts the budgets of the run and lists them with their section', () => {
    const text = renderReport({
      order: ['micro', 'e2e'],
      results: [result('micro'), result('e2e', false)],
      machine,
      totalSeconds: 30,
    });
    // The whole run (every section ran, in 30 s) is a budget of its own.
    expect(text).toContain('**Budgets of this run:** 2 met, 1 missed.');
    expect(text).toContain(
      '| Whole run | `npm run bench`, every section, in under 10 minutes | 0.5 min | 10 min | met |',
    );
    expect(text).toContain('| Section e2e | e2e budget | 1.50 × | ≤ 2 × | **missed**: why |');
    expect(text.indexOf('## Section micro')).toBeLessThan(text.indexOf('## Section e2e'));
  });

  it('keeps the blocks of the sections a partial run did not run, and replaces the others', () => {
    const earlier = renderReport({
      order: ['micro', 'e2e'],
      results: [result('micro'), result('e2e')],
      machine,
      totalSeconds: 30,
    });
    const later = renderReport({
      order: ['micro', 'e2e'],
      results: [result('e2e', false)],
      machine: { ...machine, date: '2026-12-02T10:00:00.000Z' },
      totalSeconds: 20,
      previous: earlier,
    });
    expect(previousBlocks(later).get('micro')).toBe(previousBlocks(earlier).get('micro'));
    expect(previousBlocks(later).get('e2e')).toContain('**missed**');
    expect(later).toContain('Kept from an earlier run: micro.');
    // A partial run says nothing of the whole run's time; each section's wall time says when it ran.
    expect(later).not.toContain('| Whole run |');
    expect(later).toContain('| micro | 12 s | 2026-12-01 10:00 UTC (kept) |');
    expect(later).toContain('| e2e | 12 s | this run |');
    expect(later).toContain('| **this run, in all** | **20 s** |');
    // The last run of every section stays on record through partial runs.
    expect(earlier).toContain('**Last whole run:** 2026-12-01 10:00 UTC · 2 cores (Test CPU)');
    expect(earlier).toContain('every section in 30 s (0.5 min).');
    expect(later).toContain('**Last whole run:** 2026-12-01 10:00 UTC');
    expect(later).not.toContain('**Last whole run:** 2026-12-02');
  });

  it('checks no whole-run budget when a section failed', () => {
    const text = renderReport({
      order: ['micro', 'e2e'],
      results: [result('micro'), { name: 'e2e', seconds: 3, error: 'port in use' }],
      machine,
      totalSeconds: 15,
    });
    expect(text).not.toContain('| Whole run |');
    expect(text).not.toContain('**Last whole run:**');
    expect(text).toContain('| e2e | 3 s | this run (failed) |');
  });

  it('misses the whole-run budget at ten minutes', () => {
    const text = renderReport({
      order: ['micro'],
      results: [result('micro')],
      machine,
      totalSeconds: 600,
    });
    expect(text).toContain(
      '| Whole run | `npm run bench`, every section, in under 10 minutes | 10.0 min | 10 min | **missed**',
    );
  });
});

describe('formatNumber', () => {
  it('keeps two decimals below 10, one below 100, none above, with thousands separated', () => {
    expect([formatNumber(1.234), formatNumber(12.34), formatNumber(12_345.6)]).toEqual([
      '1.23',
      '12.3',
      '12,346',
    ]);
  });
});

describe('percentile', () => {
  it('takes the nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(sorted, 50), percentile(sorted, 99), percentile([7], 99)]).toEqual([50, 99, 7]);
  });
});

describe('summarise', () => {
  it('measures each opt-out from its send to its receipt, and the rate from first send to last receipt', () => {
    const shots = [
      { key: 'a', sentAt: 1000, answeredAt: 1010, status: 202 },
      { key: 'b', sentAt: 1500, answeredAt: 1530, status: 202 },
    ];
    const received = new Map([
      ['a', 1040],
      ['b', 2000],
    ]);
    expect(summarise(shots, received, 1)).toEqual({
      count: 2,
      concurrency: 1,
      p50Ms: 40,
      p99Ms: 500,
      perSecond: 2,
      acceptP50Ms: 10,
    });
  });
});
