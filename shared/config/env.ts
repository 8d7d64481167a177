/**
 * The one place that reads `process.env`. Feature code asks for typed values through these helpers,
 * which name the missing or malformed key so that a misconfigured function fails at cold start with
 * a message a support engineer can act on.
 */
import { ConfigurationError } from '#shared/errors.ts';

/** Where settings are read from: `process.env` unless a caller passes its own. */
export type Env = Readonly<Record<string, string | undefined>>;

const source = (): Env => process.env;

/** A required string. Throws {@link ConfigurationError} naming the key when it is absent or empty. */
export function requireString(key: string, env: Env = source()): string {
  const value = env[key];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`Missing required environment variable ${key}`, { key });
  }
  return value;
}

/** An optional string with a default. */
export function optionalString(key: string, fallback: string, env: Env = source()): string {
  const value = env[key];
  return value === undefined || value === '' ? fallback : value;
}

/** An optional string, `undefined` when absent. */
export function maybeString(key: string, env: Env = source()): string | undefined {
  const value = env[key];
  return value === undefined || value === '' ? undefined : value;
}

/** An optional non-negative number with a default. Throws when present but not a number. */
export function optionalNumber(key: string, fallback: number, env: Env = source()): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new ConfigurationError(`Environment variable ${key} must be a non-negative number, got "${raw}"`, {
      key,
    });
  }
  return value;
}

/** An optional integer ≥ 1 with a default. Throws when present but not one. */
export function optionalPositiveInteger(key: string, fallback: number, env: Env = source()): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigurationError(`Environment variable ${key} must be a positive integer, got "${raw}"`, {
      key,
    });
  }
  return value;
}

/** An optional value out of a fixed set, with a default. */
export function optionalEnum<const T extends string>(
  key: string,
  allowed: readonly T[],
  fallback: T,
  env: Env = source(),
): T {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigurationError(
      `Environment variable ${key} must be one of ${allowed.join(', ')}, got "${raw}"`,
      {
        key,
      },
    );
  }
  return raw as T;
}
