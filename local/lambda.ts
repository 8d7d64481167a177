/**
 * What the Lambda runtime and its event sources hand a function: the `context` object, and the event
 * shapes of API Gateway (REST proxy, v1), the SQS event source mapping and an EventBridge schedule.
 * Pure builders, so the local host and pollers stay thin and these stay unit-tested.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, Context, ScheduledEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '#local/constants.ts';
import { type Env, optionalString } from '#shared/config/env.ts';
import { ConfigurationError } from '#shared/errors.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';

export const LOCAL_STAGE = 'local';

// biome-ignore lint/suspicious/noExplicitAny: handlers are invoked with whatever their event source sends
export type LambdaHandler = (event: any, context: Context) => Promise<any>;

export interface LambdaContextOptions {
  readonly functionName: string;
  readonly timeoutMs: number;
  /** @default 1024 */
  readonly memoryMb?: number;
  readonly awsRequestId?: string;
}

/** A Lambda `context`: `getRemainingTimeInMillis()` counts down from `timeoutMs`. */
export function lambdaContext(options: LambdaContextOptions): Context {
  const started = Date.now();
  const { functionName } = options;
  const unsupported = () => {
    throw new Error('Callback-style completion is not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(options.memoryMb ?? 1024),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, options.timeoutMs - (Date.now() - started)),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/**
 * A flow's process function timeout in the local stack: the registry's, or shorter when
 * `LOCAL_FUNCTION_TIMEOUT_SECONDS` says so. That is a comma-separated list: a bare number caps every
 * flow, `<flowId>=<seconds>` caps one (`15,legacyAck=2`: 15 s at most, the legacy ack's 2 s). The queue's
 * visibility timeout follows it (six times, as on AWS; see `shortenVisibilityTimeouts`), so a short-timed
 * test stack gets back within seconds what a crash or a time-out left in flight, and a delay longer than
 * a flow's timeout plays a Lambda time-out.
 */
export function localFunctionTimeoutSeconds(flowId: FlowId, env?: Env): number {
  const registry = FLOWS[flowId].queue.functionTimeoutSeconds;
  const caps = timeoutCaps(optionalString(LOCAL_FUNCTION_TIMEOUT_KEY, '', env));
  return Math.min(registry, caps.get(flowId) ?? caps.get('*') ?? registry);
}

export const LOCAL_FUNCTION_TIMEOUT_KEY = 'LOCAL_FUNCTION_TIMEOUT_SECONDS';

/** `15,legacyAck=2` → `{ '*': 15, legacyAck: 2 }`; a malformed entry fails naming the key. */
function timeoutCaps(spec: string): Map<string, number> {
  const caps = new Map<string, number>();
  for (const part of spec.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const [name, value] = part.includes('=') ? part.split('=', 2).map((p) => p.trim()) : ['*', part];
    const seconds = Number(value);
    if (!Number.isFinite(seconds) || seconds <= 0 || (name !== '*' && !(name! in FLOWS))) {
      throw new ConfigurationError(
        `${LOCAL_FUNCTION_TIMEOUT_KEY} must list seconds or <flowId>=<seconds>, got "${part}"`,
        { key: LOCAL_FUNCTION_TIMEOUT_KEY },
      );
    }
    caps.set(name!, seconds);
  }
  return caps;
}

/** What Lambda reports when an invocation outlives its timeout. */
export class LambdaTimeoutError extends Error {
  readonly functionName: string;
  readonly timeoutMs: number;
  constructor(functionName: string, timeoutMs: number) {
    super(`${functionName}: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
    this.name = 'LambdaTimeoutError';
    this.functionName = functionName;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The handler, held to its timeout as Lambda holds it: an invocation still running when
 * `context.getRemainingTimeInMillis()` runs out fails with {@link LambdaTimeoutError}, and its answer
 * (for SQS, the batch's partial response) is lost, so its records come back after their visibility
 * timeout. Unlike Lambda, which ends the execution environment, the abandoned call runs on in the
 * background: whatever it still does (a late delivery, a trace update) races the retry, which is
 * harsher than Lambda, never kinder.
 */
export function withTimeout(handler: LambdaHandler): LambdaHandler {
  return (event, context) => {
    const timeoutMs = context.getRemainingTimeInMillis();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new LambdaTimeoutError(context.functionName, timeoutMs)), timeoutMs);
    });
    return Promise.race([handler(event, context), timedOut]).finally(() => clearTimeout(timer));
  };
}

/** Lambda-style function names: `local-assetSync-ingest`. */
export const functionName = (id: string, kind: string) => `${LOCAL_STAGE}-${id}-${kind}`;

export interface ProxyRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** The route template, e.g. `/v1/messages/{messageId}`. */
  readonly resource: string;
  readonly pathParameters: Record<string, string> | null;
  /** Node's `rawHeaders`: name, value, name, value… with the caller's spelling. */
  readonly rawHeaders: readonly string[];
  readonly query: URLSearchParams;
  readonly body: string | null;
  readonly claims: Record<string, string> | null;
  readonly sourceIp: string;
  readonly requestId?: string;
  readonly now?: Date;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** API Gateway's `requestTime`: `09/Apr/2015:12:34:56 +0000`. */
export function apiGatewayTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

/**
 * An API Gateway REST proxy event (payload v1). As on AWS, `headers` keeps the last value of each header
 * with the caller's spelling, `multiValueHeaders` every value, and absent parts are `null`.
 */
export function buildProxyEvent(request: ProxyRequest): APIGatewayProxyEvent {
  const { headers, multiValueHeaders } = headerMaps(request.rawHeaders);
  return {
    resource: request.resource,
    path: request.path,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    ...queryParameterMaps(request.query),
    pathParameters: request.pathParameters,
    stageVariables: null,
    body: request.body,
    isBase64Encoded: false,
    requestContext: proxyRequestContext(request, headers),
  };
}

/** Node's `rawHeaders` as API Gateway passes them: the last value per name, and every value per name. */
export function headerMaps(rawHeaders: readonly string[]): {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
} {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    headers[name] = value;
    // biome-ignore lint/suspicious/noAssignInExpressions: collecting values per name
    (multiValueHeaders[name] ??= []).push(value);
  }
  return { headers, multiValueHeaders };
}

/** The query string as API Gateway passes it: both maps `null` when there is none. */
export function queryParameterMaps(query: URLSearchParams): {
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
} {
  let queryStringParameters: Record<string, string> | null = null;
  let multiValueQueryStringParameters: Record<string, string[]> | null = null;
  for (const [name, value] of query) {
    queryStringParameters ??= {};
    multiValueQueryStringParameters ??= {};
    queryStringParameters[name] = value;
    // biome-ignore lint/suspicious/noAssignInExpressions: collecting values per name
    (multiValueQueryStringParameters[name] ??= []).push(value);
  }
  return { queryStringParameters, multiValueQueryStringParameters };
}

function proxyRequestContext(
  request: ProxyRequest,
  headers: Record<string, string>,
): APIGatewayProxyEvent['requestContext'] {
  const now = request.now ?? new Date();
  const requestId = request.requestId ?? randomUUID();
  const userAgent = Object.entries(headers).find(([k]) => k.toLowerCase() === 'user-agent')?.[1] ?? null;
  return {
    accountId: LOCAL_ACCOUNT_ID,
    apiId: 'local',
    authorizer: request.claims ? { claims: request.claims } : null,
    domainName: headers.host ?? headers.Host ?? '127.0.0.1',
    extendedRequestId: requestId,
    httpMethod: request.method,
    identity: callerIdentity(request.sourceIp, userAgent),
    path: `/${LOCAL_STAGE}${request.path}`,
    protocol: 'HTTP/1.1',
    requestId,
    requestTime: apiGatewayTime(now),
    requestTimeEpoch: now.getTime(),
    resourceId: 'local',
    resourcePath: request.resource,
    stage: LOCAL_STAGE,
  };
}

/** A caller identity with only what an unsigned (Cognito-authorized) request has: its address and agent. */
function callerIdentity(
  sourceIp: string,
  userAgent: string | null,
): APIGatewayProxyEvent['requestContext']['identity'] {
  return {
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent,
    userArn: null,
  };
}

/** Cognito authorizer claims: every value a string, as API Gateway passes them. */
export function authorizerClaims(claims: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(claims)) {
    if (value !== undefined && value !== null) out[key] = String(value);
  }
  return out;
}

/** One SQS message, received with all attributes, as the event source mapping hands it to Lambda. */
export function sqsRecord(message: Message, eventSourceARN: string, awsRegion = LOCAL_REGION): SQSRecord {
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }
        : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
    };
  }
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? LOCAL_ACCOUNT_ID,
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(a.MessageGroupId !== undefined ? { MessageGroupId: a.MessageGroupId } : {}),
      ...(a.MessageDeduplicationId !== undefined ? { MessageDeduplicationId: a.MessageDeduplicationId } : {}),
      ...(a.SequenceNumber !== undefined ? { SequenceNumber: a.SequenceNumber } : {}),
      ...(a.AWSTraceHeader !== undefined ? { AWSTraceHeader: a.AWSTraceHeader } : {}),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  } as SQSRecord;
}

export function buildSqsEvent(messages: readonly Message[], eventSourceARN: string): SQSEvent {
  return { Records: messages.map((m) => sqsRecord(m, eventSourceARN)) };
}

/**
 * The records Lambda deletes after an invocation, given the handler's outcome. A thrown error, or an
 * answer naming a record not in the batch (or none at all), fails the whole batch, as on AWS.
 */
export function succeededRecords(
  event: SQSEvent,
  outcome: { ok: true; value: unknown } | { ok: false },
): SQSRecord[] {
  if (!outcome.ok) return [];
  const value = outcome.value as { batchItemFailures?: unknown } | null | undefined;
  const failures = value?.batchItemFailures;
  if (failures === undefined || failures === null) return [...event.Records];
  if (!Array.isArray(failures)) return [];
  const ids = new Set(event.Records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return [];
    failed.add(id);
  }
  return event.Records.filter((r) => !failed.has(r.messageId));
}

/** An EventBridge scheduled event, as the sweep's rule delivers it. */
export function scheduledEvent(ruleName: string, now = new Date()): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT_ID,
    time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:rule/${ruleName}`],
    detail: {},
  };
}

/**
 * Loads a handler module (repository-relative path from the registry) and returns its `handler`.
 * Cached per module, like a warm Lambda; a failed load is retried on the next call.
 */
export function createHandlerLoader(repoRoot: string): (modulePath: string) => Promise<LambdaHandler> {
  const cache = new Map<string, Promise<LambdaHandler>>();
  return (modulePath) => {
    let loading = cache.get(modulePath);
    if (!loading) {
      loading = import(pathToFileURL(resolve(repoRoot, modulePath)).href).then((mod) => {
        if (typeof mod.handler !== 'function') throw new Error(`${modulePath} exports no handler function`);
        return mod.handler as LambdaHandler;
      });
      loading.catch(() => cache.delete(modulePath));
      cache.set(modulePath, loading);
    }
    return loading;
  };
}
