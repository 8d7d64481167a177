/**
 * A stand-in for a Cognito user pool's signing key: an RSA key pair, its JWKS, and tokens shaped like
 * the pool's access and ID tokens, signed with it (or with a forger's key under the same `kid`).
 */
import { randomUUID } from 'node:crypto';
import type { Jwks } from 'aws-jwt-verify/jwk';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export const USER_POOL_ID = 'eu-west-1_TestPool1';
export const ISSUER = `https://cognito-idp.eu-west-1.amazonaws.com/${USER_POOL_ID}`;
export const CLIENT_IDS = { dacs: 'dacs-client-id', derms: 'derms-client-id', support: 'support-client-id' };
const KID = 'test-key-1';

export interface TestPool {
  readonly jwks: Jwks;
  /** Signs `claims` over the defaults of an access token, with the pool's key unless `key` is given. */
  sign(claims: JWTPayload, options?: { key?: CryptoKey; kid?: string }): Promise<string>;
  /** An access token of `clientId` carrying `scope`, valid for an hour. */
  accessToken(clientId: string, scope: string, extra?: JWTPayload): Promise<string>;
  /** A key that is not the pool's, for forged signatures. */
  readonly forgerKey: CryptoKey;
}

export async function createTestPool(): Promise<TestPool> {
  const pool = await generateKeyPair('RS256', { extractable: true });
  const forger = await generateKeyPair('RS256');
  const jwk = await exportJWK(pool.publicKey);
  const jwks = { keys: [{ ...jwk, kid: KID, alg: 'RS256', use: 'sig' }] } as Jwks;
  const now = () => Math.floor(Date.now() / 1000);

  const sign: TestPool['sign'] = (claims, options = {}) =>
    new SignJWT({
      iss: ISSUER,
      token_use: 'access',
      auth_time: now(),
      iat: now(),
      exp: now() + 3600,
      jti: randomUUID(),
      version: 2,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? KID })
      .sign(options.key ?? pool.privateKey);

  return {
    jwks,
    sign,
    accessToken: (clientId, scope, extra = {}) =>
      sign({ sub: clientId, client_id: clientId, scope, ...extra }),
    forgerKey: forger.privateKey,
  };
}
