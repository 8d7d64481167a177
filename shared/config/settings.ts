/**
 * The function's settings: every tunable of {@link TUNABLES}, read and checked once, when a handler is
 * created (on Lambda, at module initialisation of its entry point under functions/), then passed down.
 * Not at import of this module: tests set `process.env` after their imports.
 *
 * ```ts
 * export function createXHandler(flow: FlowDefinition, settings: Settings = loadSettings()) { … }
 * ```
 */
import type { Env } from '#shared/config/env.ts';
import { type SettingName, TUNABLES } from '#shared/config/tunables.ts';

/** Every tunable's value by its setting name, e.g. `settings.finalAckGraceSeconds`. */
export type Settings = { readonly [K in SettingName]: number };

/**
 * Reads every tunable from `env` (its default when absent or empty), frozen. Throws a ConfigurationError
 * naming the key of the first malformed value, so a misconfigured function fails at initialisation.
 * @param env @default `process.env`, through `#shared/config/env.ts`
 */
export function loadSettings(env?: Env): Settings {
  const settings = {} as Record<SettingName, number>;
  for (const name of Object.keys(TUNABLES) as SettingName[]) settings[name] = readSetting(name, env);
  return Object.freeze(settings);
}

/** One setting only, for the few readers that need no more (the retry policy of a queue's construct). */
export function readSetting(name: SettingName, env?: Env): number {
  const tunable = TUNABLES[name];
  return tunable.parse(tunable.env, tunable.default, env);
}

/** The defaults of every setting, as an environment without tunables gives them. */
export const DEFAULT_SETTINGS: Settings = loadSettings({});
