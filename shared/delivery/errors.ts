import { ConfigurationError, DeliveryError } from '#shared/errors.ts';

/**
 * The credentials for a receiver are missing or malformed: typically a Secrets Manager secret that the
 * platform team has not filled yet (the CDK creates it empty or with a generated placeholder).
 *
 * It is a retryable {@link DeliveryError} on purpose. Nothing is wrong with the message, and filling the
 * secret fixes every waiting delivery, so messages back off and are delivered once the secret is filled,
 * rather than being dead-lettered wholesale on the first deployment. If the secret stays empty, the
 * messages still end up dead-lettered after `maxReceiveCount`, each with this error's message recorded.
 * The `cause` is a {@link ConfigurationError} naming the environment variable.
 */
export class CredentialsNotFilledError extends DeliveryError {
  /** The environment variable that points at the credentials (`DERMS_CREDENTIALS_SECRET_ARN`, …). */
  readonly key: string;
  /** The secret to fill, when the credentials come from Secrets Manager. */
  readonly secretArn?: string;
  constructor(message: string, options: { key: string; secretArn?: string }) {
    super(message, { retryable: true, cause: new ConfigurationError(message, { key: options.key }) });
    this.name = 'CredentialsNotFilledError';
    this.key = options.key;
    if (options.secretArn !== undefined) this.secretArn = options.secretArn;
  }
}
