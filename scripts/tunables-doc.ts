/**
 * `npx tsx scripts/tunables-doc.ts`: rewrites the tunables table of docs/architecture.md ("Function
 * environment") from the one table of tunables, shared/config/tunables.ts.
 *
 * `renderTunablesTable()` and `withTunablesTable()` are pure, so a unit test fails when the doc is stale
 * (test/unit/docs/tunables.test.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTING_NAMES, TUNABLES } from '#shared/config/tunables.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ARCHITECTURE_DOC = resolve(ROOT, 'docs/architecture.md');

/** The header row that starts the generated table; every line after it that starts with `|` is its. */
export const TUNABLES_TABLE_HEADER = '| Tunable | Meaning | Default |';

/** The tunables table, one row per tunable in the table's order. */
export function renderTunablesTable(): string {
  const rows = SETTING_NAMES.map((name) => {
    const tunable = TUNABLES[name];
    return `| \`${tunable.env}\` | ${tunable.meaning} | ${tunable.default} |`;
  });
  return [TUNABLES_TABLE_HEADER, '|---|---|---|', ...rows].join('\n');
}

/** `markdown` with its tunables table replaced by {@link renderTunablesTable}. */
export function withTunablesTable(markdown: string): string {
  const lines = markdown.split('\n');
  const start = lines.indexOf(TUNABLES_TABLE_HEADER);
  if (start === -1) throw new Error(`No line "${TUNABLES_TABLE_HEADER}" to put the tunables table at`);
  let end = start + 1;
  while (end < lines.length && lines[end]?.startsWith('|')) end += 1;
  return [...lines.slice(0, start), renderTunablesTable(), ...lines.slice(end)].join('\n');
}

async function main(): Promise<void> {
  const doc = await readFile(ARCHITECTURE_DOC, 'utf8');
  await writeFile(ARCHITECTURE_DOC, withTunablesTable(doc));
  console.log('wrote docs/architecture.md (tunables table)');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
