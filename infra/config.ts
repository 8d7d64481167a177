/**
 * Stage configuration, read from CDK context. `cdk.json` holds one block per stage under `stages`;
 * `-c stage=<name>` picks one, and single keys can be overridden on the command line
 * (`-c alarmEmail=ops@utility.corp`; an object-valued key takes JSON: `-c 'paths={"DACS_LEGACY_ACK_PATH":"/x"}'`).
 * Nothing here is secret: credentials live in Secrets Manager.
 *
 * Reading shapes and type-checks every key; `checkStage` (infra/stage-checks.ts) then refuses what would
 * deploy but not work: placeholders on `test` and `prod`, throttles that do not add up, a body limit that
 * does not fit Lambda. Every error names the `cdk.json` key.
 */
import { checkStage } from '#infra/stage-checks.ts';

export { DEPLOYABLE_STAGES } from '#infra/stage-checks.ts';

import { TUNABLE_ENV, TUNABLES, type TunableEnv, tunableOf } from '#shared/config/tunables.ts';
import { FLOWS, type FlowId, flowList, type TargetSystem } from '#shared/flows/registry.ts';

export const STAGES = ['dev', 'test', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

export { TUNABLE_ENV, type TunableEnv } from '#shared/config/tunables.ts';

export interface TargetConfig {
  /** Base URL of the receiver, without trailing slash. */
  readonly baseUrl: string;
  /** Path overrides keyed by the registry's `target.pathEnv`; absent keys use the contract default. */
  readonly paths: Readonly<Record<string, string>>;
}

/** A steady-state rate (requests per second) and a burst. */
export interface ThrottleFigures {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** What `apiThrottle.routes` is keyed by: a flow, or `support` (each support route gets that figure). */
export type ThrottledRoute = FlowId | 'support';
export const THROTTLED_ROUTES: readonly ThrottledRoute[] = [...flowList().map((f) => f.id), 'support'];

/**
 * API Gateway throttling: the stage total, and one bucket of its own per route. The route figures add
 * up to at most the total, so a burst of one route (bulk asset syncs) never takes another's share
 * (the opt-outs' reserve).
 */
export interface ApiThrottleConfig extends ThrottleFigures {
  readonly routes: Readonly<Record<ThrottledRoute, ThrottleFigures>>;
}

export interface WafConfig {
  /** Requests per source IP per 5 minutes before the rate rule answers 429; above the stage throttle. */
  readonly rateLimitPer5Min: number;
  /** Partner egress ranges by partner name; when given, the rate rule above applies to them only. */
  readonly partnerCidrs: Readonly<Record<string, readonly string[]>>;
  /** With partner ranges: requests per source IP per 5 minutes from anywhere else. */
  readonly otherRateLimitPer5Min: number;
  /** The AWS managed rule groups count (observe) or block. */
  readonly managedRulesAction: 'count' | 'block';
  /** Blocked requests per 5 minutes that the WAF alarm tolerates. */
  readonly blockedAlarmThreshold: number;
}

/** A custom domain: its name and the ACM certificate that covers it. */
export interface CustomDomainConfig {
  readonly domainName: string;
  readonly certificateArn: string;
}

export interface StageConfig {
  readonly stage: Stage;
  /** Prefix of every physical name: `dacs-derms-<stage>`. */
  readonly prefix: string;
  /** The account the stage deploys to; required on `test` and `prod`. */
  readonly account?: string;
  /** The region the stage deploys to. */
  readonly region: string;
  readonly targets: Readonly<Record<TargetSystem, TargetConfig>>;
  /** Where alarms are e-mailed; the default of the `AlarmEmail` stack parameter. */
  readonly alarmEmail: string;
  readonly legacyAckMode: 'forward' | 'reject';
  /** Days that traces, correlation and idempotency records and claim-check objects live. */
  readonly retentionDays: number;
  readonly logRetentionDays: number;
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  readonly apiThrottle: ApiThrottleConfig;
  readonly waf: WafConfig;
  /** Alarm when a queue's oldest message is older than this. */
  readonly maxMessageAgeSeconds: number;
  /** Cognito hosted domain prefix for the token endpoint; must be unique in the region. */
  readonly cognitoDomainPrefix?: string;
  /** Custom domain of the API (TLS 1.2); the default execute-api endpoint is then switched off. */
  readonly apiDomain?: CustomDomainConfig;
  /** Custom domain of the Cognito token endpoint (certificate in us-east-1). */
  readonly tokenDomain?: CustomDomainConfig;
  /** Let this stack set the account-wide API Gateway CloudWatch role (needed for execution logs). */
  readonly apiGatewayAccountRole: boolean;
  /** Concurrency reserved for the authorizer (and the most it may use). */
  readonly authorizerReservedConcurrency: number;
  /** Extra function settings: tunables of {@link TUNABLES} by variable, each checked by its parser. */
  readonly functionEnvironment: Readonly<Partial<Record<TunableEnv, string>>>;
  /** The inbound body limit the ingest functions apply: `MAX_BODY_BYTES`, or its default. */
  readonly maxBodyBytes: number;
  /** `prod` keeps data on stack deletion and turns on deletion protection. */
  readonly retainData: boolean;
}

/** Reads a context value: a command-line override wins over the stage block. */
type ContextReader = (key: string) => unknown;

/** Reads one key of the stage: the command line first, then the stage block; and names it in errors. */
interface StageReader {
  readonly stage: Stage;
  get(key: string): unknown;
  /** `stages.<stage>.<key>`, as errors name it. */
  where(key: string): string;
}

const PATH_ENVS = new Set(flowList().map((f) => f.target.pathEnv));

/** An object; a string is taken as JSON, which is how `-c key=value` passes an object. */
function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  const parsed = typeof value === 'string' ? parseJson(value, what) : value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${what} must be an object`);
  return parsed as Record<string, unknown>;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} must be an object (JSON on the command line), got "${text}"`, { cause: error });
  }
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`${what} must be a non-empty string`);
  return value;
}

function optionalStr(value: unknown, what: string): string | undefined {
  return value === undefined ? undefined : str(value, what);
}

function num(value: unknown, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0)
    throw new Error(`${what} must be a positive number`);
  return n;
}

function bool(value: unknown, fallback: boolean): boolean {
  return value === undefined ? fallback : value === true || value === 'true';
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T, what: string): T {
  const v = (value ?? fallback) as string;
  if (!(allowed as readonly string[]).includes(v))
    throw new Error(`${what} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

function url(value: unknown, what: string): string {
  const s = str(value, what);
  if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(s))
    throw new Error(`${what} must be an http(s) URL, got "${s}"`);
  return s.replace(/\/+$/, '');
}

function readStage(tryGetContext: ContextReader): Stage {
  const stage = (tryGetContext('stage') ?? 'dev') as string;
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new Error(`Context "stage" must be one of ${STAGES.join(', ')}, got "${stage}"`);
  }
  return stage as Stage;
}

function stageReader(tryGetContext: ContextReader): StageReader {
  const stage = readStage(tryGetContext);
  const block = asRecord(asRecord(tryGetContext('stages'), 'context "stages"')[stage], `stages.${stage}`);
  return {
    stage,
    get: (key) => tryGetContext(key) ?? block[key],
    where: (key) => `stages.${stage}.${key}`,
  };
}

/** Checks that every path override names a flow's path variable; answers the overrides of one receiver. */
function readPaths(r: StageReader): (system: TargetSystem) => Record<string, string> {
  const paths = asRecord(r.get('paths'), r.where('paths'));
  for (const key of Object.keys(paths)) {
    if (!PATH_ENVS.has(key)) throw new Error(`${r.where('paths')}.${key} is not a path variable of any flow`);
  }
  return (system) =>
    Object.fromEntries(
      flowList()
        .filter((f) => f.target.system === system && paths[f.target.pathEnv] !== undefined)
        .map((f) => [
          f.target.pathEnv,
          str(paths[f.target.pathEnv], `${r.where('paths')}.${f.target.pathEnv}`),
        ]),
    );
}

/**
 * Only the tunables of `TUNABLES` may be set per stage, each to a value its parser takes (the check the
 * function would make at initialisation, made at synth instead); values become strings.
 */
function readFunctionEnvironment(r: StageReader): Record<string, string> {
  const where = r.where('functionEnvironment');
  const fnEnv = asRecord(r.get('functionEnvironment'), where);
  return Object.fromEntries(
    Object.entries(fnEnv).map(([key, value]) => [key, tunableValue(key, value, where)]),
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

function readFigures(value: unknown, fallback: ThrottleFigures | undefined, what: string): ThrottleFigures {
  if (value === undefined && fallback === undefined) throw new Error(`${what} is required`);
  const figures = asRecord(value, what);
  return {
    rateLimit: num(figures.rateLimit, fallback?.rateLimit ?? 0, `${what}.rateLimit`),
    burstLimit: num(figures.burstLimit, fallback?.burstLimit ?? 0, `${what}.burstLimit`),
  };
}

/** The stage total and one figure per route; every route must have one (`support`: each support route). */
function readApiThrottle(r: StageReader): ApiThrottleConfig {
  const where = r.where('apiThrottle');
  const throttle = asRecord(r.get('apiThrottle'), where);
  const total = readFigures(throttle, { rateLimit: 50, burstLimit: 100 }, where);
  const routes = asRecord(throttle.routes, `${where}.routes`);
  for (const key of Object.keys(routes)) {
    if (!(THROTTLED_ROUTES as readonly string[]).includes(key))
      throw new Error(`${where}.routes.${key} is not one of ${THROTTLED_ROUTES.join(', ')}`);
  }
  const figures = Object.fromEntries(
    THROTTLED_ROUTES.map((route) => [
      route,
      readFigures(routes[route], undefined, `${where}.routes.${route}`),
    ]),
  ) as Record<ThrottledRoute, ThrottleFigures>;
  return { ...total, routes: figures };
}

function readPartnerCidrs(value: unknown, what: string): Record<string, string[]> {
  const partners = asRecord(value, what);
  return Object.fromEntries(
    Object.entries(partners).map(([name, cidrs]) => {
      if (!/^[A-Za-z0-9-]{1,40}$/.test(name))
        throw new Error(`${what}.${name}: a partner name is [A-Za-z0-9-]{1,40}`);
      if (!Array.isArray(cidrs) || cidrs.length === 0)
        throw new Error(`${what}.${name} must be a non-empty list of CIDR ranges`);
      return [name, cidrs.map((c, i) => cidr(c, `${what}.${name}[${i}]`))];
    }),
  );
}

function cidr(value: unknown, what: string): string {
  const s = str(value, what);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s);
  const v4ok = v4?.slice(1, 5).every((o) => Number(o) <= 255) && Number(v4?.[5]) <= 32;
  const v6ok = /^[0-9A-Fa-f:]+\/\d{1,3}$/.test(s) && s.includes(':') && Number(s.split('/')[1]) <= 128;
  if (!v4ok && !v6ok) throw new Error(`${what} must be an IPv4 or IPv6 CIDR range, got "${s}"`);
  return s;
}

function readWaf(r: StageReader): WafConfig {
  return {
    rateLimitPer5Min: num(r.get('wafRateLimitPer5Min'), 20_000, r.where('wafRateLimitPer5Min')),
    partnerCidrs: readPartnerCidrs(r.get('wafPartnerCidrs'), r.where('wafPartnerCidrs')),
    otherRateLimitPer5Min: num(r.get('wafOtherRateLimitPer5Min'), 300, r.where('wafOtherRateLimitPer5Min')),
    managedRulesAction: oneOf(
      r.get('wafManagedRulesAction'),
      ['count', 'block'] as const,
      'count',
      r.where('wafManagedRulesAction'),
    ),
    blockedAlarmThreshold: nonNegative(
      r.get('wafBlockedAlarmThreshold'),
      r.where('wafBlockedAlarmThreshold'),
    ),
  };
}

function nonNegative(value: unknown, what: string): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a number ≥ 0`);
  return n;
}

function readDomain(r: StageReader, key: string): CustomDomainConfig | undefined {
  const value = r.get(key);
  if (value === undefined) return undefined;
  const domain = asRecord(value, r.where(key));
  const certificateArn = str(domain.certificateArn, `${r.where(key)}.certificateArn`);
  if (!/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(certificateArn))
    throw new Error(`${r.where(key)}.certificateArn must be an ACM certificate ARN, got "${certificateArn}"`);
  return { domainName: str(domain.domainName, `${r.where(key)}.domainName`).toLowerCase(), certificateArn };
}

function readAccount(r: StageReader): string | undefined {
  const account = r.get('account');
  if (account === undefined) return undefined;
  const s = String(account);
  if (!/^\d{12}$/.test(s))
    throw new Error(`${r.where('account')} must be a 12-digit AWS account id, got "${s}"`);
  return s;
}

function readTargets(r: StageReader): Record<TargetSystem, TargetConfig> {
  const pathsFor = readPaths(r);
  return {
    DERMS: { baseUrl: url(r.get('dermsBaseUrl'), r.where('dermsBaseUrl')), paths: pathsFor('DERMS') },
    DACS: { baseUrl: url(r.get('dacsBaseUrl'), r.where('dacsBaseUrl')), paths: pathsFor('DACS') },
  };
}

/**
 * Builds the stage configuration from context. Throws with the offending key when the stage or a value
 * is missing, malformed or (on `test` and `prod`) a placeholder, so a misconfigured `cdk synth` fails
 * before any resource is created.
 */
export function readStageConfig(tryGetContext: ContextReader): StageConfig {
  const r = stageReader(tryGetContext);
  const { stage } = r;
  const functionEnvironment = readFunctionEnvironment(r);
  const config: StageConfig = {
    stage,
    prefix: `dacs-derms-${stage}`,
    account: readAccount(r),
    region: str(r.get('region'), r.where('region')),
    targets: readTargets(r),
    alarmEmail: str(r.get('alarmEmail'), r.where('alarmEmail')),
    legacyAckMode: oneOf(
      r.get('legacyAckMode'),
      ['forward', 'reject'] as const,
      'forward',
      r.where('legacyAckMode'),
    ),
    retentionDays: num(r.get('retentionDays'), TUNABLES.retentionDays.default, r.where('retentionDays')),
    logRetentionDays: num(
      r.get('logRetentionDays'),
      stage === 'prod' ? 365 : 30,
      r.where('logRetentionDays'),
    ),
    logLevel: oneOf(
      r.get('logLevel'),
      ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const,
      'INFO',
      r.where('logLevel'),
    ),
    apiThrottle: readApiThrottle(r),
    waf: readWaf(r),
    maxMessageAgeSeconds: num(r.get('maxMessageAgeSeconds'), 1800, r.where('maxMessageAgeSeconds')),
    cognitoDomainPrefix: optionalStr(r.get('cognitoDomainPrefix'), r.where('cognitoDomainPrefix')),
    apiDomain: readDomain(r, 'apiDomain'),
    tokenDomain: readDomain(r, 'tokenDomain'),
    apiGatewayAccountRole: bool(r.get('apiGatewayAccountRole'), true),
    authorizerReservedConcurrency: num(
      r.get('authorizerReservedConcurrency'),
      10,
      r.where('authorizerReservedConcurrency'),
    ),
    functionEnvironment,
    maxBodyBytes: Number(functionEnvironment.MAX_BODY_BYTES ?? TUNABLES.maxBodyBytes.default),
    retainData: stage === 'prod',
  };
  checkStage(config);
  return config;
}

/** The path a flow delivers to on this stage: the override, or the contract default. */
export function pathFor(config: StageConfig, flowId: keyof typeof FLOWS): string {
  const { target } = FLOWS[flowId];
  return config.targets[target.system].paths[target.pathEnv] ?? target.defaultPath;
}
