/**
 * What a stage must hold before it is worth deploying, checked at synth so that a first deploy does not
 * stand up an integration that delivers nowhere, e-mails nobody, or throttles what it promised:
 *
 * - on `test` and `prod` (the deployable stages): real receivers over HTTPS, a real alarm address, an
 *   explicit account, the DACS legacy-ack path when legacy acks are forwarded (the contract gives none),
 *   no placeholder custom domain;
 * - on every stage: route throttles that add up to at most the stage total and leave the opt-outs a
 *   share of their own, a firewall rate limit above what the throttle admits, and a body limit whose
 *   worst-case event fits Lambda.
 *
 * Every problem names its `cdk.json` key; all of them are reported at once.
 */
import { MAX_SAFE_BODY_BYTES } from '#infra/body-limit.ts';
import type { Stage, StageConfig, ThrottledRoute } from '#infra/config.ts';
import { SUPPORT_ROUTES } from '#shared/flows/registry.ts';

/** Stages a real caller depends on: synth refuses placeholders there. */
export const DEPLOYABLE_STAGES: readonly Stage[] = ['test', 'prod'];

/** Host names reserved for examples and tests (RFC 2606, RFC 6761): never a real receiver. */
const PLACEHOLDER_HOST = /(^|\.)(example\.(com|net|org)|example|invalid|test|localhost)$/i;

export function isPlaceholderHost(host: string): boolean {
  return PLACEHOLDER_HOST.test(host.replace(/\.$/, ''));
}

/** Seconds in the firewall's rate window. */
export const WAF_WINDOW_SECONDS = 300;

/** Throws one error listing every problem of the stage, each naming its key. */
export function checkStage(config: StageConfig): void {
  const problems = [
    ...(DEPLOYABLE_STAGES.includes(config.stage) ? deployableProblems(config) : []),
    ...throttleProblems(config),
    ...wafProblems(config),
    ...bodyLimitProblems(config),
  ];
  if (problems.length > 0) {
    throw new Error(
      `Stage "${config.stage}" is not ready to deploy (cdk.json context, or -c <key>=<value>):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}

const at = (config: StageConfig, key: string) => `stages.${config.stage}.${key}`;

function deployableProblems(config: StageConfig): string[] {
  return [
    ...receiverProblems(config),
    ...alarmEmailProblems(config),
    ...(config.account ? [] : [`${at(config, 'account')}: set the stage's AWS account id`]),
    ...legacyAckPathProblems(config),
    ...domainProblems(config),
  ];
}

function receiverProblems(config: StageConfig): string[] {
  return (['DERMS', 'DACS'] as const).flatMap((system) => {
    const key = at(config, `${system.toLowerCase()}BaseUrl`);
    const { protocol, hostname } = new URL(config.targets[system].baseUrl);
    const problems: string[] = [];
    if (protocol !== 'https:') problems.push(`${key}: ${system} must be reached over https, not ${protocol}`);
    if (isPlaceholderHost(hostname))
      problems.push(`${key}: "${hostname}" is a placeholder; set ${system}'s real base URL`);
    return problems;
  });
}

function alarmEmailProblems(config: StageConfig): string[] {
  const domain = config.alarmEmail.split('@')[1] ?? '';
  return isPlaceholderHost(domain) || domain === ''
    ? [`${at(config, 'alarmEmail')}: "${config.alarmEmail}" is an example address; set the on-call address`]
    : [];
}

function legacyAckPathProblems(config: StageConfig): string[] {
  if (config.legacyAckMode !== 'forward') return [];
  const path = config.targets.DACS.paths.DACS_LEGACY_ACK_PATH;
  if (path === undefined)
    return [
      `${at(config, 'paths.DACS_LEGACY_ACK_PATH')}: the contract gives no DACS legacy-ack path; set DACS's ` +
        `(or legacyAckMode "reject")`,
    ];
  return path.startsWith('/') ? [] : [`${at(config, 'paths.DACS_LEGACY_ACK_PATH')}: must start with /`];
}

function domainProblems(config: StageConfig): string[] {
  return (['apiDomain', 'tokenDomain'] as const).flatMap((key) => {
    const domain = config[key];
    return domain && isPlaceholderHost(domain.domainName)
      ? [`${at(config, `${key}.domainName`)}: "${domain.domainName}" is a placeholder`]
      : [];
  });
}

/** The number of API methods that share each `apiThrottle.routes` figure. */
function methodsPerRoute(route: string): number {
  return route === 'support' ? Object.keys(SUPPORT_ROUTES).length : 1;
}

function throttleProblems(config: StageConfig): string[] {
  const { apiThrottle } = config;
  const problems: string[] = [];
  for (const figure of ['rateLimit', 'burstLimit'] as const) {
    const routes = Object.entries(apiThrottle.routes) as [
      ThrottledRoute,
      (typeof apiThrottle.routes)[ThrottledRoute],
    ][];
    const sum = routes.reduce(
      (total, [route, figures]) => total + figures[figure] * methodsPerRoute(route),
      0,
    );
    if (sum > apiThrottle[figure]) {
      problems.push(
        `${at(config, `apiThrottle.routes`)}: the routes' ${figure} add up to ${sum}, over the stage's ` +
          `${apiThrottle[figure]}; a route could then take another's share (support counts once per support route)`,
      );
    }
  }
  return problems;
}

function wafProblems(config: StageConfig): string[] {
  const admitted = config.apiThrottle.rateLimit * WAF_WINDOW_SECONDS;
  return config.waf.rateLimitPer5Min > admitted
    ? []
    : [
        `${at(config, 'wafRateLimitPer5Min')}: ${config.waf.rateLimitPer5Min} is not above what the stage ` +
          `throttle admits in 5 minutes (${admitted}); the firewall would block traffic the API would take`,
      ];
}

function bodyLimitProblems(config: StageConfig): string[] {
  return config.maxBodyBytes > MAX_SAFE_BODY_BYTES
    ? [
        `${at(config, 'functionEnvironment.MAX_BODY_BYTES')}: ${config.maxBodyBytes} bytes could not reach ` +
          `Lambda once API Gateway escapes it; at most ${MAX_SAFE_BODY_BYTES} (infra/body-limit.ts)`,
      ]
    : [];
}
