/**
 * Renders the figures the reliability suite recorded (`.local/reliability/*.json`) into
 * docs/reliability.md, replacing the previous run's tables. Run by `npm run test:reliability` after the
 * suite passes.
 */

import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { REPO_ROOT, readFigures } from './figures.ts';

const sections = readFigures();
if (sections.length === 0) {
  console.error('No reliability figures were recorded: did the suite run?');
  process.exit(1);
}
const seeds = [...new Set(sections.map((s) => s.seed).filter(Boolean))];
const cell = (text: string | number) => String(text).replaceAll('|', '\\|');
const lines = [
  '# Reliability in figures',
  '',
  'Written by `npm run test:reliability` from what its scenarios counted; every figure below was measured',
  'in the last run, against the local stack (`npm start`: the same handlers as Lambda, DynamoDB Local,',
  'fauxqs and the DERMS/DACS simulators). Replay a run with `RELIABILITY_SEED=<seed> npm run test:reliability`.',
  '',
  `Last run: ${new Date().toISOString()}, seed ${seeds.join(', ') || 'n/a'}, on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
  '',
];
for (const section of sections) {
  lines.push(`## ${section.title}`, '', '| Figure | Value | Meaning |', '|---|---:|---|');
  for (const f of section.figures)
    lines.push(`| ${cell(f.name)} | ${cell(f.value)} | ${cell(f.note ?? '')} |`);
  lines.push('');
}
writeFileSync(resolve(REPO_ROOT, 'docs/reliability.md'), lines.join('\n'));
console.log(`docs/reliability.md written: ${sections.length} sections, seed ${seeds.join(', ')}`);
