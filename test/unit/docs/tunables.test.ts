/**
 * docs/architecture.md's "Function environment" lists the tunables as the table in
 * shared/config/tunables.ts has them. When this fails, run `npx tsx scripts/tunables-doc.ts`.
 */
import { readFileSync } from 'node:fs';
import { TUNABLE_ENV, TUNABLES } from '#shared/config/tunables.ts';
import {
  ARCHITECTURE_DOC,
  renderTunablesTable,
  TUNABLES_TABLE_HEADER,
  withTunablesTable,
} from '../../../scripts/tunables-doc.ts';

const doc = readFileSync(ARCHITECTURE_DOC, 'utf8');

/** The rows of the markdown table that starts at `header`, as cells. */
function tableRows(markdown: string, header: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(header);
  expect(start).toBeGreaterThan(-1);
  const rows: string[][] = [];
  for (let i = start + 2; lines[i]?.startsWith('|'); i++) {
    rows.push(
      (lines[i] as string)
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** Every `UPPER_CASE` name in backticks in a cell. */
const variablesIn = (cell: string): string[] =>
  [...cell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] as string);

const section = doc.slice(
  doc.indexOf('## Function environment'),
  doc.indexOf('\n## ', doc.indexOf('## Function environment') + 1),
);

describe('the Function environment section of docs/architecture.md', () => {
  const tunableRows = tableRows(section, TUNABLES_TABLE_HEADER);

  it('lists every tunable of the table with its default, and no tunable the table lacks', () => {
    const documented = Object.fromEntries(tunableRows.map(([variable, , value]) => [variable, value]));
    const expected = Object.fromEntries(
      Object.values(TUNABLES).map((t) => [`\`${t.env}\``, String(t.default)]),
    );
    expect(documented).toEqual(expected);
  });

  it('documents no tunable among the other variables', () => {
    const others = tableRows(section, '| Variable | Meaning | Default |').flatMap(([variable]) =>
      variablesIn(variable ?? ''),
    );
    expect(others.length).toBeGreaterThan(0);
    expect(others.filter((name) => (TUNABLE_ENV as readonly string[]).includes(name))).toEqual([]);
  });

  it('holds exactly the rows generated from the table (meanings too)', () => {
    expect(section).toContain(renderTunablesTable());
    expect(withTunablesTable(doc)).toBe(doc);
  });
});
