/** Errors of the correlation store. */
import { IntegrationError } from '#shared/errors.ts';

export class ConsolidationError extends IntegrationError {
  readonly syncRequestId: string;
  constructor(message: string, options: ErrorOptions & { syncRequestId: string }) {
    super(message, options);
    this.name = 'ConsolidationError';
    this.syncRequestId = options.syncRequestId;
  }
}

/** DynamoDB kept returning unprocessed items of a batch after every retry. Retrying the message is safe. */
export class UnprocessedItemsError extends ConsolidationError {
  readonly remaining: number;
  constructor(message: string, options: ErrorOptions & { syncRequestId: string; remaining: number }) {
    super(message, options);
    this.name = 'UnprocessedItemsError';
    this.remaining = options.remaining;
  }
}
