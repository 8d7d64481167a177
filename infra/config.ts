/**
 * Stage configuration, read from CDK context. `cdk.json` holds one block per stage under `stages`;
 * `-c stage=<name>` picks one, and single keys can be overridden on the command line
 * (`-c alarmEmail=ops@example.com`). Nothing here is secret: credentials live in Secrets Manager.
 */
import { TUNABLE_ENV, TUNABLES, type TunableEnv, tunableOf } from '#shared/config/tunables.ts';
import { FLOWS, flowList, type TargetSystem } from '#shared/flows/registry.ts';

export const STAGES = ['dev', 'test', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

export { TUNABLE_ENV, type TunableEnv } from '#shared/config/tunables.ts';

export interface TargetConfig {
  /** Base URL of the receiver, without trailing slash. */
  readonly baseUrl: string;
  /** Path overrides keyed by the registry's `target.pathEnv`; absent keys use the contract default. */
  readonly paths: Readonly<Record<string, string>>;
}

export interface StageConfig {
  readonly stage: Stage;
  /** Prefix of every physical name: `dacs-derms-<stage>`. */
  readonly prefix: string;
  readonly targets: Readonly<Record<TargetSystem, TargetConfig>>;
  /** Where alarms are e-mailed; the default of the `AlarmEmail` stack parameter. */
  readonly alarmEmail: string;
  readonly legacyAckMode: 'forward' | 'reject';
  /** Days that traces, correlation and idempotency records and claim-check objects live. */
  readonly retentionDays: number;
  readonly logRetentionDays: number;
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Stage-wide API Gateway throttling. */
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** WAF rate-based rule: requests per source IP per 5 minutes. */
  readonly wafRateLimitPer5Min: number;
  /** Alarm when a queue's oldest message is older than this. */
  readonly maxMessageAgeSeconds: number;
  /** Cognito hosted domain prefix for the token endpoint; must be unique in the region. */
  readonly cognitoDomainPrefix?: string;
  /** Let this stack set the account-wide API Gateway CloudWatch role (needed for execution logs). */
  readonly apiGatewayAccountRole: boolean;
  /** Extra function settings: tunables of {@link TUNABLES} by variable, each checked by its parser. */
  readonly functionEnvironment: Readonly<Partial<Record<TunableEnv, string>>>;
  /** `prod` keeps data on stack deletion and turns on deletion protection. */
  readonly retainData: boolean;
}

/** Reads a context value: a command-line override wins over the stage block. */
type ContextReader = (key: string) => unknown;

const PATH_ENVS = new Set(flowList().map((f) => f.target.pathEnv));

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`${what} must be a non-empty string`);
  return value;
}

function num(value: unknown, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0)
    throw new Error(`${what} must be a positive number`);
  return n;
}

function url(value: unknown, what: string): string {
  const s = str(value, what);
  if (!/^https?:\/\/[^\s]+$/.test(s)) throw new Error(`${what} must be an http(s) URL, got "${s}"`);
  return s.replace(/\/+$/, '');
}

function readStage(tryGetContext: ContextReader): Stage {
  const stage = (tryGetContext('stage') ?? 'dev') as string;
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new Error(`Context "stage" must be one of ${STAGES.join(', ')}, got "${stage}"`);
  }
  return stage as Stage;
}

/** Checks that every path override names a flow's path variable; answers the overrides of one receiver. */
function readPaths(
  paths: Record<string, unknown>,
  stage: Stage,
): (system: TargetSystem) => Record<string, string> {
  for (const key of Object.keys(paths)) {
    if (!PATH_ENVS.has(key))
      throw new Error(`stages.${stage}.paths.${key} is not a path variable of any flow`);
  }
  return (system) =>
    Object.fromEntries(
      flowList()
        .filter((f) => f.target.system === system && paths[f.target.pathEnv] !== undefined)
        .map((f) => [f.target.pathEnv, str(paths[f.target.pathEnv], `paths.${f.target.pathEnv}`)]),
    );
}

/**
 * Only the tunables of `TUNABLES` may be set per stage, each to a value its parser takes (the check the
 * function would make at initialisation, made at synth instead); values become strings.
 */
function readFunctionEnvironment(fnEnv: Record<string, unknown>, stage: Stage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fnEnv).map(([key, value]) => [
      key,
      tunableValue(key, value, `stages.${stage}.functionEnvironment`),
    ]),
  );
}

function tunableValue(key: string, value: unknown, where: string): string {
  const tunable = tunableOf(key);
  if (!tunable) throw new Error(`${where}.${key} is not one of ${TUNABLE_ENV.join(', ')}`);
  const text = String(value);
  try {
    tunable.parse(key, tunable.default, { [key]: text });
  } catch (error) {
    throw new Error(`${where}.${key}: ${(error as Error).message}`, { cause: error });
  }
  return text;
}

/**
 * Builds the stage configuration from context. Throws with the offending key when the stage or a value
 * is missing or malformed, so a misconfigured `cdk synth` fails before any resource is created.
 */
export function readStageConfig(tryGetContext: ContextReader): StageConfig {
  const stage = readStage(tryGetContext);
  const block = asRecord(asRecord(tryGetContext('stages'), 'context "stages"')[stage], `stages.${stage}`);
  const get = (key: string): unknown => tryGetContext(key) ?? block[key];
  const pathsFor = readPaths(asRecord(get('paths'), `stages.${stage}.paths`), stage);
  const fnEnv = readFunctionEnvironment(
    asRecord(get('functionEnvironment'), `stages.${stage}.functionEnvironment`),
    stage,
  );
  const legacyAckMode = (get('legacyAckMode') ?? 'forward') as string;
  if (legacyAckMode !== 'forward' && legacyAckMode !== 'reject') {
    throw new Error(`legacyAckMode must be forward or reject, got "${legacyAckMode}"`);
  }
  const logLevel = (get('logLevel') ?? 'INFO') as StageConfig['logLevel'];
  const throttle = asRecord(get('apiThrottle'), 'apiThrottle');
  const accountRole = get('apiGatewayAccountRole');
  const domainPrefix = get('cognitoDomainPrefix');

  return {
    stage,
    prefix: `dacs-derms-${stage}`,
    targets: {
      DERMS: { baseUrl: url(get('dermsBaseUrl'), `stages.${stage}.dermsBaseUrl`), paths: pathsFor('DERMS') },
      DACS: { baseUrl: url(get('dacsBaseUrl'), `stages.${stage}.dacsBaseUrl`), paths: pathsFor('DACS') },
    },
    alarmEmail: str(get('alarmEmail'), `stages.${stage}.alarmEmail`),
    legacyAckMode,
    retentionDays: num(get('retentionDays'), TUNABLES.retentionDays.default, 'retentionDays'),
    logRetentionDays: num(get('logRetentionDays'), stage === 'prod' ? 365 : 30, 'logRetentionDays'),
    logLevel,
    apiThrottle: {
      rateLimit: num(throttle.rateLimit, 50, 'apiThrottle.rateLimit'),
      burstLimit: num(throttle.burstLimit, 100, 'apiThrottle.burstLimit'),
    },
    wafRateLimitPer5Min: num(get('wafRateLimitPer5Min'), 3000, 'wafRateLimitPer5Min'),
    maxMessageAgeSeconds: num(get('maxMessageAgeSeconds'), 1800, 'maxMessageAgeSeconds'),
    cognitoDomainPrefix: domainPrefix === undefined ? undefined : str(domainPrefix, 'cognitoDomainPrefix'),
    apiGatewayAccountRole: accountRole === undefined ? true : accountRole === true || accountRole === 'true',
    functionEnvironment: fnEnv,
    retainData: stage === 'prod',
  };
}

/** The path a flow delivers to on this stage: the override, or the contract default. */
export function pathFor(config: StageConfig, flowId: keyof typeof FLOWS): string {
  const { target } = FLOWS[flowId];
  return config.targets[target.system].paths[target.pathEnv] ?? target.defaultPath;
}
