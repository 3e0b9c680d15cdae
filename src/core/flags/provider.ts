import type { Clock } from '../clock.js';
import type { FlagsConfig } from '../plan/schema.js';

/** The provider kinds the plan's `flags.provider` accepts. */
export type KillSwitchProviderKind = FlagsConfig['provider'];

/** What a flag service says about one flag in one environment. */
export type FlagState = 'on' | 'off' | 'unknown';

/** Whether a flag is defined: `unverifiable` when the provider has no way to ask (a plain webhook). */
export type FlagExistence = 'exists' | 'missing' | 'unverifiable';

/** Why a flag is being turned off, carried into audit logs and commit messages. */
export interface TurnOffContext {
  service: string;
  reason: string;
}

/**
 * A feature-flag service seen as a set of kill switches: turn one off in the plan's environment,
 * read its state back, check that it exists. Methods throw ProviderError on failure.
 */
export interface KillSwitchProvider {
  readonly kind: KillSwitchProviderKind;
  /** The flag service's environment these calls act on. */
  readonly environment: string;
  /** Turns `flag` off; idempotent (turning off a flag that is off succeeds). */
  turnOff(flag: string, context: TurnOffContext): Promise<void>;
  /** Reads the flag's state; `unknown` when the provider cannot read state back. */
  readState(flag: string): Promise<FlagState>;
  /** Whether the flag is defined in the flag service. */
  exists(flag: string): Promise<FlagExistence>;
}

/** What every provider is built from. */
export interface ProviderContext {
  clock: Clock;
  /** The plan's environment, used when `flags.environment` is not set. */
  planEnvironment: string;
  /** Working directory for file-based providers (the repository checkout). */
  cwd?: string;
}
