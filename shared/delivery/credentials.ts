/**
 * Credentials for outbound calls: OAuth 2.0 client credentials per receiver, turned into a cached
 * bearer token.
 *
 * Where the client id and secret come from, per system (`DERMS` or `DACS`):
 *
 *   <SYSTEM>_CREDENTIALS_SECRET_ARN set ──▶ Secrets Manager, JSON, cached for `secretMaxAgeSeconds` (AWS)
 *   else <SYSTEM>_CREDENTIALS set       ──▶ the same JSON inline (local stack)
 *   else                                ──▶ no credentials: no Authorization header
 *
 * The JSON is `{ clientId, clientSecret, tokenUrl, scope? }`. A token is reused until shortly before it
 * expires (`expires_in` minus the larger of 30 s and 10 %), concurrent callers share one token request,
 * and a receiver's 401 drops the token it rejected (see {@link CredentialsProvider.invalidate}). When the
 * token endpoint refuses a client read from the secret cache, the secret is read again (it may have been
 * rotated) and the request retried once if it changed.
 *
 * The steps live next door: `credentialSource.ts` (environment, Secrets Manager through Powertools
 * Parameters, validation) and `tokenEndpoint.ts` (the token request and its error classification).
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from '#shared/aws/clients.ts';
import { optionalNumber } from '#shared/config/env.ts';
import {
  type CredentialSource,
  createSecretCache,
  type FilledSource,
  loadCredentials,
  readSource,
  type SecretCache,
  sameClient,
} from '#shared/delivery/credentialSource.ts';
import {
  type IssuedToken,
  isRejectedClient,
  requestToken,
  type TokenRequestDeps,
} from '#shared/delivery/tokenEndpoint.ts';
import { DEFAULT_HTTP_TIMEOUT_MS, type FetchLike } from '#shared/delivery/transport.ts';
import type { TargetSystem } from '#shared/flows/registry.ts';

export type { ClientCredentials } from '#shared/delivery/credentialSource.ts';

type Env = Record<string, string | undefined>;

export interface CredentialsProvider {
  /** `Bearer <token>` for the system, or `undefined` when it has no credentials configured. */
  authorizationHeader(system: TargetSystem): Promise<string | undefined>;
  /**
   * The receiver answered 401 to `header`: forget that token so the next call fetches a new one. A
   * header that is no longer the cached one (another caller already refreshed it) is ignored, so a burst
   * of 401s costs one token request, not one each.
   */
  invalidate(system: TargetSystem, header: string): void;
}

export interface CredentialsProviderDeps {
  /** @default the global `fetch` */
  readonly fetch?: FetchLike;
  /** @default `process.env`, through `#shared/config/env.ts` */
  readonly env?: Env;
  /** @default `secretsManagerClient()` (X-Ray-wrapped), created only when a secret ARN is configured */
  readonly secrets?: SecretsManagerClient;
  /**
   * Wall clock in epoch milliseconds, for token expiry. The secret cache is Powertools' own and reads
   * `Date`. @default Date.now
   */
  readonly now?: () => number;
  /** How long a secret read from Secrets Manager is reused (Powertools `maxAge`). @default 300 (5 min) */
  readonly secretMaxAgeSeconds?: number;
  /** Token request timeout. @default `HTTP_TIMEOUT_MS`, else 10000 */
  readonly timeoutMs?: number;
}

/** What the steps below share: the dependencies, and per system its source, secret cache and token. */
interface ProviderState extends TokenRequestDeps {
  readonly env: Env | undefined;
  readonly secrets: SecretCache;
  /** The environment is read once per system. */
  readonly sources: Map<TargetSystem, CredentialSource>;
  readonly tokens: Map<TargetSystem, IssuedToken>;
  /** The token request in flight, shared by concurrent callers. */
  readonly tokenRequests: Map<TargetSystem, Promise<string>>;
}

const DEFAULT_SECRET_MAX_AGE_SECONDS = 5 * 60;

export function createCredentialsProvider(deps: CredentialsProviderDeps = {}): CredentialsProvider {
  const state = providerState(deps);
  return {
    authorizationHeader: (system) => authorizationHeader(state, system),
    invalidate: (system, header) => invalidate(state, system, header),
  };
}

function providerState(deps: CredentialsProviderDeps): ProviderState {
  return {
    env: deps.env,
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
    now: deps.now ?? Date.now,
    timeoutMs: deps.timeoutMs ?? optionalNumber('HTTP_TIMEOUT_MS', DEFAULT_HTTP_TIMEOUT_MS, deps.env),
    secrets: createSecretCache(
      () => deps.secrets ?? secretsManagerClient(),
      deps.secretMaxAgeSeconds ?? DEFAULT_SECRET_MAX_AGE_SECONDS,
    ),
    sources: new Map(),
    tokens: new Map(),
    tokenRequests: new Map(),
  };
}

async function authorizationHeader(state: ProviderState, system: TargetSystem): Promise<string | undefined> {
  const source = sourceFor(state, system);
  if (source.kind === 'none') return undefined;
  const cached = state.tokens.get(system);
  if (cached !== undefined && state.now() < cached.refreshAt) return cached.header;
  let request = state.tokenRequests.get(system);
  if (request === undefined) {
    request = fetchToken(state, system, source).finally(() => state.tokenRequests.delete(system));
    state.tokenRequests.set(system, request);
  }
  return request;
}

function invalidate(state: ProviderState, system: TargetSystem, header: string): void {
  if (state.tokens.get(system)?.header === header) state.tokens.delete(system);
}

function sourceFor(state: ProviderState, system: TargetSystem): CredentialSource {
  let source = state.sources.get(system);
  if (source === undefined) {
    source = readSource(system, state.env);
    state.sources.set(system, source);
  }
  return source;
}

async function fetchToken(state: ProviderState, system: TargetSystem, source: FilledSource): Promise<string> {
  const token = await requestTokenAfterRotation(state, system, source);
  // A token that lives shorter than the safety margin is used once and not cached.
  if (token.refreshAt > state.now()) state.tokens.set(system, token);
  return token.header;
}

/** A token for the credentials, read again once if the endpoint refuses ones served from the secret cache. */
async function requestTokenAfterRotation(
  state: ProviderState,
  system: TargetSystem,
  source: FilledSource,
): Promise<IssuedToken> {
  const first = await loadCredentials(state.secrets, system, source, false);
  try {
    return await requestToken(system, first.credentials, state);
  } catch (error) {
    // The secret may have been rotated since we cached it: read it again, and retry once if it changed.
    if (!(first.cached && isRejectedClient(error))) throw error;
    const fresh = await loadCredentials(state.secrets, system, source, true);
    if (sameClient(fresh.credentials, first.credentials)) throw error;
    return requestToken(system, fresh.credentials, state);
  }
}
