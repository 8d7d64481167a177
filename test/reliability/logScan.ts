/**
 * Issue 8, item 6 (security), the logs: reads everything the local stack logged during the reliability
 * suite (`<LOCAL_DATA_DIR or .local>/e2e-stack.log`, at POWERTOOLS_LOG_LEVEL=INFO) and looks for what
 * must never be logged:
 *
 *   bearer token    a JWT (`eyJ….eyJ….…`, an unsigned one too)
 *   client secret   `local-secret`, any configured local client secret, a clientSecret of the
 *                   DERMS/DACS credentials
 *   credentials     credential JSON (`clientSecret`, `client_secret`) or a private JWK (`"d":`)
 *   payload field   a field of the contract's bodies beyond the identifiers the contract allows
 *                   (`"networkAddress":`, `\"contactInfo\":` in an echoed body, …)
 *   payload value   the free text and personal data the suite sends (its message builders' values:
 *                   an opt-out's `reason`, an unavailability's `comments`, a network address, …)
 *
 * The start banner (every address, and the documented default secret of the local clients) is the
 * stack describing itself, not something it logged while working, and is not scanned.
 *
 * Run by `npm run test:reliability` after the suite and before the report: records its figures, prints
 * where each finding is (never the secret itself) and exits non-zero when there is any.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assetSyncRequest, controllableDevices, optOut, unavailability } from '#test/helpers/messages.ts';
import { REPO_ROOT, recordFigures } from './figures.ts';

export const RULES = [
  'bearer token',
  'client secret',
  'credentials',
  'payload field',
  'payload value',
] as const;
export type Rule = (typeof RULES)[number];

export interface Finding {
  /** 1-based. */
  readonly line: number;
  readonly rule: Rule;
  /** What matched, masked: a secret or a token is never printed whole. */
  readonly what: string;
}

export interface ScanOptions {
  /** Literal secrets. */
  readonly secrets: readonly string[];
  /** JSON keys of the contract's bodies that are not identifiers the contract allows in logs. */
  readonly payloadKeys: readonly string[];
  /** Free text and personal data values the suite sends. */
  readonly payloadValues: readonly string[];
}

export interface ScanResult {
  readonly lines: number;
  /** Lines of the start banner, not scanned. */
  readonly skipped: number;
  readonly findings: readonly Finding[];
}

/**
 * The contract's fields that carry personal data or free text (AssetSyncRequest's contact, subscription
 * and location details, a device's network address, serial number, make and model; an
 * unavailability's `comments`; DACS's exception info). Identifiers (`syncRequestId`, `deviceId`,
 * `nicId`, `optOutId`, …) and enums may be logged; `reason` is both an enum and free text, so it is
 * looked for by value.
 */
export const PAYLOAD_KEYS = [
  'contactInfo',
  'contactId',
  'cisPersonId',
  'subscriptionInfo',
  'cisAccountId',
  'locationInfo',
  'cisPremiseId',
  'cisServicePointId',
  'servicePointId',
  'controllableDevices',
  'networkAddress',
  'serialNumber',
  'make',
  'model',
  'comments',
  'exceptionInfo',
  'messageParameters',
] as const;

/** The values of those fields, and of free-text `reason`s, in the messages the suite's builders make. */
export function builderPayloadValues(): string[] {
  const sync = assetSyncRequest();
  const values = [
    optOut().reason,
    unavailability().comments,
    unavailability().reason,
    sync.contactInfo?.contactId,
    sync.contactInfo?.cisPersonId,
    sync.subscriptionInfo?.cisAccountId,
    sync.locationInfo.cisPremiseId,
    sync.locationInfo.cisServicePointId,
    ...controllableDevices().flatMap((d) => [d.networkAddress, d.serialNumber, d.model]),
  ];
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v.length >= 6))];
}

type Env = Readonly<Record<string, string | undefined>>;

/** `local-secret`, every configured local client secret, and the clientSecrets of the receivers' credentials. */
export function configuredSecrets(env: Env): string[] {
  const secrets = ['local-secret'];
  for (const [key, value] of Object.entries(env)) {
    if (!value) continue;
    if (key === 'LOCAL_CLIENT_SECRET' || key.endsWith('_LOCAL_CLIENT_SECRET')) secrets.push(value);
    if (key === 'DERMS_CREDENTIALS' || key === 'DACS_CREDENTIALS') secrets.push(...credentialSecrets(value));
  }
  return [...new Set(secrets.filter((s) => s.length >= 6))];
}

function credentialSecrets(json: string): string[] {
  try {
    const parsed = JSON.parse(json) as Record<string, unknown>;
    return ['clientSecret', 'client_secret', 'password', 'apiKey']
      .map((k) => parsed[k])
      .filter((v): v is string => typeof v === 'string');
  } catch {
    return [];
  }
}

export const defaultScanOptions = (env: Env = process.env): ScanOptions => ({
  secrets: configuredSecrets(env),
  payloadKeys: PAYLOAD_KEYS,
  payloadValues: builderPayloadValues(),
});

const JWT = /eyJ[\w-]{2,}\.eyJ[\w-]{2,}\.[\w-]*/g;
const CREDENTIALS = /\\?["']?(?:clientSecret|client_secret)\\?["']?\s*[:=]/gi;
const PRIVATE_JWK = /\\?"d\\?"\s*:\s*\\?"[\w-]{40,}/g;
const BANNER_FIRST = 'DACS ⇄ DERMS integration, local stack';
const BANNER_LAST = 'Local stack ready';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const mask = (s: string) => (s.length <= 8 ? '…' : `${s.slice(0, 6)}…(${s.length} chars)`);

/** Every finding in `text`, a log, line by line. */
export function scanText(text: string, options: ScanOptions): ScanResult {
  const keys =
    options.payloadKeys.length > 0
      ? new RegExp(`\\\\?"(${options.payloadKeys.map(escapeRegExp).join('|')})\\\\?"\\s*:`, 'g')
      : undefined;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const findings: Finding[] = [];
  let skipped = 0;
  let inBanner = false;
  lines.forEach((line, index) => {
    if (line.includes(BANNER_FIRST)) inBanner = true;
    if (inBanner) {
      skipped++;
      if (line.includes(BANNER_LAST)) inBanner = false;
      return;
    }
    const at = (rule: Rule, what: string) => findings.push({ line: index + 1, rule, what });
    for (const m of line.matchAll(JWT)) at('bearer token', mask(m[0]));
    for (const secret of options.secrets) if (line.includes(secret)) at('client secret', mask(secret));
    for (const m of line.matchAll(CREDENTIALS)) at('credentials', m[0]);
    for (const _ of line.matchAll(PRIVATE_JWK)) at('credentials', 'a private JWK ("d")');
    if (keys) for (const m of line.matchAll(keys)) at('payload field', m[1] as string);
    for (const value of options.payloadValues)
      if (line.includes(value)) at('payload value', JSON.stringify(value));
  });
  return { lines: lines.length, skipped, findings };
}

/** The stack log of the suite, where test/e2e/globalSetup.ts writes it. */
export const stackLogFile = (env: Env = process.env): string =>
  resolve(REPO_ROOT, env.LOCAL_DATA_DIR ?? '.local', 'e2e-stack.log');

const count = (result: ScanResult, rules: readonly Rule[]) =>
  result.findings.filter((f) => rules.includes(f.rule)).length;

export function recordScan(file: string, result: ScanResult): void {
  recordFigures('security-logs', {
    title: 'Security: what the stack logged',
    order: 61,
    figures: [
      {
        name: 'Log lines scanned',
        value: result.lines - result.skipped,
        note: `everything the stack logged (${file.replace(`${REPO_ROOT}/`, '')}), at INFO`,
      },
      {
        name: 'Start banner lines not scanned',
        value: result.skipped,
        note: 'the stack describing itself at start',
      },
      {
        name: 'Secrets found',
        value: count(result, ['bearer token', 'client secret', 'credentials']),
        note: 'must be 0: bearer tokens, client secrets, credential JSON, private keys',
      },
      {
        name: 'Payload fields found',
        value: count(result, ['payload field', 'payload value']),
        note: 'must be 0: contract fields beyond the allowed identifiers, by key or by the suite’s values',
      },
      ...RULES.map((rule) => ({ name: `… ${rule}`, value: count(result, [rule]) })),
    ],
  });
}

function main(): void {
  const file = stackLogFile();
  if (!existsSync(file)) {
    console.error(`No stack log at ${file}: did the suite run?`);
    process.exit(1);
  }
  const result = scanText(readFileSync(file, 'utf8'), defaultScanOptions());
  recordScan(file, result);
  for (const f of result.findings) console.error(`${file}:${f.line}: ${f.rule}: ${f.what}`);
  const scanned = result.lines - result.skipped;
  if (result.findings.length > 0) {
    console.error(`Log scan: ${result.findings.length} findings in ${scanned} lines.`);
    process.exit(1);
  }
  console.log(`Log scan: ${scanned} lines, no secret and no payload field.`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
