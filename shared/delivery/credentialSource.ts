/**
 * Where a receiver's client credentials come from, and reading them: a Secrets Manager secret cached by
 * Powertools Parameters, or inline JSON from the environment (local stack). See `credentials.ts`.
 */

import { GetParameterError } from '@aws-lambda-powertools/parameters/errors';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsGetOptions } from '@aws-lambda-powertools/parameters/secrets/types';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { maybeString } from '#shared/config/env.ts';
import { CredentialsNotFilledError } from '#shared/delivery/errors.ts';
import { DeliveryError } from '#shared/errors.ts';
import type { TargetSystem } from '#shared/flows/registry.ts';

type Env = Record<string, string | undefined>;

export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tokenUrl: string;
  readonly scope?: string;
}

export type CredentialSource =
  | { readonly kind: 'none' }
  | { readonly kind: 'secret'; readonly key: string; readonly arn: string }
  | { readonly kind: 'inline'; readonly key: string; readonly raw: string };

export type FilledSource = CredentialSource & { kind: 'secret' | 'inline' };

export interface LoadedCredentials {
  readonly credentials: ClientCredentials;
  /** True when served from the secret cache rather than read just now. */
  readonly cached: boolean;
}

/** Powertools' Secrets Manager provider, counting its reads so that a cached answer can be told from a fresh one. */
class CountingSecretsProvider extends SecretsProvider {
  reads = 0;
  protected override _get(
    name: string,
    options?: NonNullable<SecretsGetOptions>,
  ): Promise<string | Uint8Array | undefined> {
    this.reads++;
    return super._get(name, options);
  }
}

/** One Powertools provider (so one cache) per system, created on first use with the X-Ray-wrapped client. */
export interface SecretCache {
  readonly client: () => SecretsManagerClient;
  readonly maxAgeSeconds: number;
  readonly providers: Map<TargetSystem, CountingSecretsProvider>;
}

export const createSecretCache = (
  client: () => SecretsManagerClient,
  maxAgeSeconds: number,
): SecretCache => ({
  client,
  maxAgeSeconds,
  providers: new Map(),
});

const FILL_HINT = 'Fill it with JSON {"clientId", "clientSecret", "tokenUrl", "scope"?}.';

/** `<SYSTEM>_CREDENTIALS_SECRET_ARN` wins over `<SYSTEM>_CREDENTIALS`; neither means no credentials. */
export function readSource(system: TargetSystem, env: Env | undefined): CredentialSource {
  const secretKey = `${system}_CREDENTIALS_SECRET_ARN`;
  const arn = maybeString(secretKey, env);
  if (arn !== undefined) return { kind: 'secret', key: secretKey, arn };
  const inlineKey = `${system}_CREDENTIALS`;
  const raw = maybeString(inlineKey, env);
  return raw !== undefined ? { kind: 'inline', key: inlineKey, raw } : { kind: 'none' };
}

/** The system's credentials; `fresh` bypasses the secret cache (after the token endpoint refused the client). */
export async function loadCredentials(
  cache: SecretCache,
  system: TargetSystem,
  source: FilledSource,
  fresh: boolean,
): Promise<LoadedCredentials> {
  if (source.kind === 'inline') {
    return { credentials: parseCredentials(system, source.raw, source), cached: false };
  }
  const { value, cached } = await readSecret(cache, system, source, fresh);
  try {
    return { credentials: parseCredentials(system, value, source), cached };
  } catch (error) {
    // Only a well-formed secret is kept, so one filled in a moment ago is picked up on the next call.
    cache.providers.get(system)?.clearCache();
    throw error;
  }
}

async function readSecret(
  cache: SecretCache,
  system: TargetSystem,
  source: FilledSource & { kind: 'secret' },
  fresh: boolean,
): Promise<{ value: string | undefined; cached: boolean }> {
  try {
    const provider = providerFor(cache, system);
    const readsBefore = provider.reads;
    const value = await provider.get(source.arn, { maxAge: cache.maxAgeSeconds, forceFetch: fresh });
    // A binary secret cannot hold the JSON: it counts as empty.
    return { value: typeof value === 'string' ? value : undefined, cached: provider.reads === readsBefore };
  } catch (error) {
    throw unreadableSecret(system, source, error);
  }
}

function providerFor(cache: SecretCache, system: TargetSystem): CountingSecretsProvider {
  let provider = cache.providers.get(system);
  if (provider === undefined) {
    provider = new CountingSecretsProvider({ awsSdkV3Client: cache.client() });
    cache.providers.set(system, provider);
  }
  return provider;
}

/** Access denied, a secret not created yet, throttling: all fixed without touching the message. */
function unreadableSecret(
  system: TargetSystem,
  source: FilledSource & { kind: 'secret' },
  error: unknown,
): DeliveryError {
  // Powertools wraps the SDK's error; the SDK's (ResourceNotFoundException, …) says what to fix.
  const cause = error instanceof GetParameterError ? error.cause : error;
  const reason = (cause as { name?: unknown } | null)?.name;
  return new DeliveryError(
    `${system} credentials could not be read from secret ${source.arn} (${source.key}): ${typeof reason === 'string' ? reason : 'unknown error'}`,
    { retryable: true, cause },
  );
}

/** Validates the credentials JSON without ever echoing a value of it. */
export function parseCredentials(
  system: TargetSystem,
  raw: string | undefined,
  source: FilledSource,
): ClientCredentials {
  const notFilled = notFilledError(system, source);
  if (raw === undefined || raw.trim() === '') throw notFilled('is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw notFilled('is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw notFilled('is not a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  const missing = (['clientId', 'clientSecret', 'tokenUrl'] as const).filter(
    (field) => typeof record[field] !== 'string' || (record[field] as string).trim() === '',
  );
  if (missing.length > 0) throw notFilled(`lacks ${missing.join(', ')}`);
  const tokenUrl = record.tokenUrl as string;
  if (!URL.canParse(tokenUrl) || !/^https?:$/.test(new URL(tokenUrl).protocol)) {
    throw notFilled('has a tokenUrl that is not an http(s) URL');
  }
  if (record.scope !== undefined && typeof record.scope !== 'string') {
    throw notFilled('has a scope that is not a string');
  }
  return {
    clientId: record.clientId as string,
    clientSecret: record.clientSecret as string,
    tokenUrl,
    ...(typeof record.scope === 'string' && record.scope !== '' && { scope: record.scope }),
  };
}

function notFilledError(system: TargetSystem, source: FilledSource) {
  const where =
    source.kind === 'secret' ? `secret ${source.arn} (${source.key})` : `environment variable ${source.key}`;
  return (problem: string) =>
    new CredentialsNotFilledError(
      `${system} credentials are not filled in: ${where} ${problem}. ${FILL_HINT}`,
      {
        key: source.key,
        ...(source.kind === 'secret' && { secretArn: source.arn }),
      },
    );
}

export const sameClient = (a: ClientCredentials, b: ClientCredentials): boolean =>
  a.clientId === b.clientId &&
  a.clientSecret === b.clientSecret &&
  a.tokenUrl === b.tokenUrl &&
  a.scope === b.scope;
