/**
 * Writes docs/cost.md on its own: measures the AWS requests of every flow (`bench/requests.ts`, against
 * DynamoDB Local and fauxqs on `IT_DYNAMODB_PORT` / `IT_FAUXQS_PORT`, default 8100 and 4666) and prices
 * them (`bench/cost.ts`). `npm run cost`.
 */
import { COST_DOC } from '../bench/cost.ts';
import { measureRequests } from '../bench/requests.ts';

const section = await measureRequests();
for (const budget of section.budgets)
  console.info(`${budget.ok ? 'ok  ' : 'MISS'} ${budget.name}: ${budget.measured} (limit ${budget.limit})`);
console.info(`wrote ${COST_DOC}`);
