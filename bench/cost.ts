/**
 * docs/cost.md: what a message costs on AWS, from the requests `bench/requests.ts` counted per message
 * and a dated table of AWS list prices (us-east-1, arm64). `measureRequests()` writes it after it has
 * measured; `scripts/cost.ts` (`npm run cost`) runs that measurement alone.
 *
 * The prices are list prices as the table's date says, written down without internet access: they are
 * to be checked against aws.amazon.com/pricing before anyone quotes them.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The day the price table was written down, and the region and architecture it is for. */
export const PRICES_DATE = '2026-12-01';
export const PRICES_REGION = 'us-east-1, arm64, on demand, first pricing tier, free tiers ignored';

/** USD list prices, per unit named in each `per`. */
export const PRICES = {
  apiGatewayRest: { usd: 3.5, per: 1e6, unit: 'API Gateway REST requests (first 333 M a month)' },
  waf: { usd: 0.6, per: 1e6, unit: 'WAF web requests inspected (plus $5/month per web ACL, $1 per rule)' },
  lambdaRequests: { usd: 0.2, per: 1e6, unit: 'Lambda requests' },
  lambdaGbSeconds: { usd: 0.0000133334, per: 1, unit: 'Lambda GB-second, arm64 (first 7.5 billion a month)' },
  sqsStandard: { usd: 0.4, per: 1e6, unit: 'SQS standard requests (each 64 KB of payload is one)' },
  sqsFifo: { usd: 0.5, per: 1e6, unit: 'SQS FIFO requests (each 64 KB of payload is one)' },
  dynamoWrite: { usd: 0.625, per: 1e6, unit: 'DynamoDB on-demand write request units' },
  dynamoRead: { usd: 0.125, per: 1e6, unit: 'DynamoDB on-demand read request units' },
  s3Put: { usd: 0.005, per: 1e3, unit: 'S3 Standard PUT, COPY, POST, LIST requests' },
  s3Get: { usd: 0.0004, per: 1e3, unit: 'S3 Standard GET and other requests' },
  logsIngest: { usd: 0.5, per: 2 ** 30, unit: 'CloudWatch Logs ingestion, standard class, per GB' },
  logsStore: {
    usd: 0.03,
    per: 2 ** 30,
    unit: 'CloudWatch Logs storage, per GB-month (30-day retention: one month)',
  },
  xrayTraces: { usd: 5, per: 1e6, unit: 'X-Ray traces recorded' },
  metrics: {
    usd: 0.3,
    per: 1,
    unit: 'CloudWatch custom metric per month (first 10,000; EMF, so no API calls)',
  },
} as const;

/** OIC's price for the same work, from issue 10: $0.65–$1.29 per pack-hour of 5,000 messages. */
export const OIC_PER_MILLION = { low: 129, high: 258 } as const;

/** What one unit of work (one message, or one sync request with its ack) uses. */
export interface Usage {
  /** HTTP calls through API Gateway and WAF. */
  readonly apiRequests: number;
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  /** SQS requests billed (64 KB chunks), standard and FIFO. */
  readonly sqsStandard: number;
  readonly sqsFifo: number;
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly s3Puts: number;
  readonly s3Gets: number;
  /** Bytes of logs written (the functions' lines, their EMF metrics, and Lambda's platform lines). */
  readonly logBytes: number;
  /** X-Ray traces recorded (invocations × the sampling rate). */
  readonly traces: number;
}

export const COMPONENTS = {
  apiGateway: 'API Gateway REST',
  waf: 'WAF',
  lambdaRequests: 'Lambda requests',
  lambdaCompute: 'Lambda GB-seconds',
  sqs: 'SQS',
  dynamoWrites: 'DynamoDB writes',
  dynamoReads: 'DynamoDB reads',
  s3: 'S3',
  logs: 'CloudWatch Logs',
  xray: 'X-Ray',
} as const;
export type Component = keyof typeof COMPONENTS;

/** What would cut each component, for the cost drivers. */
const CUTS: Record<Component, string> = {
  apiGateway:
    'an HTTP API ($1.00 per million) instead of the REST API, once WAF moves to CloudFront or the ALB and the request validation it does stays in the ingest function',
  waf: 'scope WAF to the routes the Internet reaches, or rate-based rules only',
  lambdaRequests: 'larger SQS batches (a batch of 10 is one invocation)',
  lambdaCompute:
    'less memory for these I/O-bound functions (1,024 MB → 512 MB halves GB-seconds if the duration holds), batches of 10, and fewer sequential DynamoDB round trips per message',
  sqs: 'batches (SendMessageBatch, DeleteMessageBatch by the event source mapping at batch size 10), and claim-checks sooner for large bodies',
  dynamoWrites:
    'fewer items per message: the Powertools idempotency record and the message trace hold the same key and could be one item (two writes fewer), and device reports outside transactions cost half (one unit, not two)',
  dynamoReads: 'eventually consistent reads where a stale answer only costs a retry (half a unit)',
  s3: 'a higher claim-check threshold (SQS takes 1 MiB since 2025)',
  logs: 'log level WARN in steady state and shorter INFO lines (each INFO line carries the Lambda context)',
  xray: 'a lower sampling rate, or tracing only the time-critical flow',
};

export function costOf(usage: Usage): Record<Component, number> {
  const p = (key: keyof typeof PRICES, amount: number) => (amount * PRICES[key].usd) / PRICES[key].per;
  return {
    apiGateway: p('apiGatewayRest', usage.apiRequests),
    waf: p('waf', usage.apiRequests),
    lambdaRequests: p('lambdaRequests', usage.lambdaInvocations),
    lambdaCompute: p('lambdaGbSeconds', usage.lambdaGbSeconds),
    sqs: p('sqsStandard', usage.sqsStandard) + p('sqsFifo', usage.sqsFifo),
    dynamoWrites: p('dynamoWrite', usage.writeUnits),
    dynamoReads: p('dynamoRead', usage.readUnits),
    s3: p('s3Put', usage.s3Puts) + p('s3Get', usage.s3Gets),
    logs: p('logsIngest', usage.logBytes) + p('logsStore', usage.logBytes),
    xray: p('xrayTraces', usage.traces),
  };
}

export const total = (costs: Record<Component, number>): number =>
  Object.values(costs).reduce((a, b) => a + b, 0);

/** One row of the doc: a flow (or a sync request and its ack) and what one unit of it used. */
export interface CostRow {
  readonly name: string;
  /** Messages one unit is (1 for a flow; 2 for a sync request with its final ack). */
  readonly messages: number;
  readonly usage: Usage;
  /** Included in the drivers' ranking (the per-message flows; the sync rows are shown apart). */
  readonly inMix: boolean;
  /** A sync row: its devices. */
  readonly devices?: number;
}

export interface CostReport {
  /** When and where the counts were measured. */
  readonly measuredAt: string;
  readonly machine: string;
  /** How the usage was derived (assumptions), as markdown bullets. */
  readonly assumptions: readonly string[];
  readonly rows: readonly CostRow[];
}

const usd = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

function rowsTable(rows: readonly CostRow[]): string {
  const keys = Object.keys(COMPONENTS) as Component[];
  const header = `| Flow | ${keys.map((k) => COMPONENTS[k]).join(' | ')} | **$ per million messages** | vs OIC |`;
  const rule = `|${' --- |'.repeat(keys.length + 3)}`;
  const lines = rows
    .filter((row) => row.inMix)
    .map((row) => {
      const perMessage = costOf(row.usage);
      const million = (x: number) => (x * 1e6) / row.messages;
      const all = million(total(perMessage));
      const ratio = `${(OIC_PER_MILLION.low / all).toFixed(0)}–${(OIC_PER_MILLION.high / all).toFixed(0)}× cheaper`;
      return `| ${row.name} | ${keys.map((k) => usd(million(perMessage[k]))).join(' | ')} | **${usd(all)}** | ${ratio} |`;
    });
  return [header, rule, ...lines].join('\n');
}

/** The sync rows: what a sync request and its final ack cost, by size. */
function syncTable(rows: readonly CostRow[]): string {
  const lines = rows
    .filter((r) => r.devices !== undefined)
    .map((r) => {
      const costs = costOf(r.usage);
      const all = total(costs);
      const dynamo = costs.dynamoWrites + costs.dynamoReads;
      const devices = r.devices ?? 1;
      return `| ${devices.toLocaleString('en-US')} | ${(all * 1000).toFixed(3)} | ${((all / devices) * 1e6).toFixed(2)} | ${((dynamo / all) * 100).toFixed(0)} % | ${((costs.lambdaCompute / all) * 100).toFixed(0)} % |`;
    });
  return [
    '| Devices | $ per thousand syncs (request + final ack) | $ per million devices | DynamoDB share | Lambda GB-s share |',
    '| --- | --- | --- | --- | --- |',
    ...lines,
  ].join('\n');
}

function usageTable(rows: readonly CostRow[]): string {
  const header =
    '| Flow | messages | Lambda invocations | GB-s | SQS requests (std / FIFO) | DynamoDB RRU | DynamoDB WRU | S3 PUT / GET | log bytes | traces |';
  const rule = `|${' --- |'.repeat(10)}`;
  const lines = rows.map(({ name, messages, usage: u }) =>
    [
      name,
      messages,
      u.lambdaInvocations,
      u.lambdaGbSeconds.toFixed(3),
      `${u.sqsStandard} / ${u.sqsFifo}`,
      u.readUnits.toFixed(1),
      u.writeUnits.toFixed(1),
      `${u.s3Puts} / ${u.s3Gets}`,
      Math.round(u.logBytes),
      u.traces.toFixed(2),
    ].join(' | '),
  );
  return [header, rule, ...lines.map((l) => `| ${l} |`)].join('\n');
}

/** The three components that cost most over the per-message flows, each flow weighted equally. */
export function drivers(rows: readonly CostRow[]): { component: Component; usdPerMillion: number }[] {
  const sums = new Map<Component, number>();
  const mix = rows.filter((r) => r.inMix);
  for (const row of mix) {
    const costs = costOf(row.usage);
    for (const [k, v] of Object.entries(costs) as [Component, number][])
      sums.set(k, (sums.get(k) ?? 0) + (v * 1e6) / row.messages / mix.length);
  }
  return [...sums.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([component, usdPerMillion]) => ({ component, usdPerMillion }));
}

function pricesTable(): string {
  const lines = Object.values(PRICES).map(
    (p) =>
      `| ${p.unit} | $${p.usd} per ${p.per === 1 ? 'unit' : p.per === 2 ** 30 ? 'GB' : p.per.toLocaleString('en-US')} |`,
  );
  return ['| What | List price |', '| --- | --- |', ...lines].join('\n');
}

export function renderCostDoc(report: CostReport): string {
  const top = drivers(report.rows);
  return `# What a message costs on AWS

Generated by \`bench/cost.ts\` (run alone: \`npm run cost\`) from the requests \`bench/requests.ts\` counted, message by message, with
the request recorder on the SDK clients (\`shared/aws/requestRecorder.ts\`), running every flow in process
through its real handlers against DynamoDB Local and fauxqs. Do not edit by hand: it is written again by
\`npm run cost\`.

Measured ${report.measuredAt} on ${report.machine}.

## $ per million messages

Each figure is US dollars per million messages of that flow (a sync row: per million messages, its
request and its final ack counting as two), by what AWS bills. OIC's message packs cost
$${OIC_PER_MILLION.low}–$${OIC_PER_MILLION.high} per million messages (issue 10: $0.65–$1.29 per pack-hour of 5,000).
Monthly fixed costs (WAF web ACL and rules, custom metrics, the dashboard, alarms, KMS keys, Secrets
Manager secrets) are not per message and are left out; so is data transfer.

${rowsTable(report.rows)}

An asset sync's cost grows with its devices, which OIC's per-message price does not show; by size (a sync
request and DERMS's one final ack for all its devices):

${syncTable(report.rows)}

Per device, a sync costs one write unit to record it, and two to store its report and two for its line of
the consolidated ack (each written in conditional transactions of 100, which DynamoDB bills double), plus
one read unit for the stored report read before the ack's writes. Lambda GB-seconds of the large syncs are
this machine's, where DynamoDB Local on two shared cores answers far slower than DynamoDB.

## The three biggest cost drivers

Over the five message flows, each weighted equally:

${top.map((d, i) => `${i + 1}. **${COMPONENTS[d.component]}**, $${usd(d.usdPerMillion)} per million messages. What would cut it: ${CUTS[d.component]}.`).join('\n')}

## What one unit used

${usageTable(report.rows)}

How the usage was derived:

${report.assumptions.map((a) => `- ${a}`).join('\n')}

## Prices

AWS list prices as of ${PRICES_DATE} (${PRICES_REGION}), written down from memory without internet access:
**list prices as of that date, to be checked** against aws.amazon.com/pricing before they are quoted.

${pricesTable()}
`;
}

export const COST_DOC = fileURLToPath(new URL('../docs/cost.md', import.meta.url));

export async function writeCostDoc(report: CostReport): Promise<string> {
  await writeFile(COST_DOC, renderCostDoc(report));
  return COST_DOC;
}
