import type { Clock } from '../clock.js';
import { describeError, PlanError, ProviderError } from '../errors.js';
import type { FlagsConfig, Plan } from '../plan/schema.js';
import type { ActionRuntime } from '../runtime.js';
import { FlagdFileKillSwitches } from './flagd-file.js';
import { LaunchDarklyKillSwitches } from './launchdarkly.js';
import type { FlagExistence, FlagState, KillSwitchProvider, KillSwitchProviderKind, ProviderContext } from './provider.js';
import { UnleashKillSwitches } from './unleash.js';
import { WebhookKillSwitches } from './webhook.js';

export type { FlagExistence, FlagState, KillSwitchProvider, KillSwitchProviderKind, ProviderContext, TurnOffContext } from './provider.js';

/** Builds the kill-switch provider the plan's `flags` section names. */
export function createKillSwitchProvider(config: FlagsConfig, context: ProviderContext): KillSwitchProvider {
  switch (config.provider) {
    case 'unleash':
      return new UnleashKillSwitches(config, context);
    case 'launchdarkly':
      return new LaunchDarklyKillSwitches(config, context);
    case 'flagd-file':
      return new FlagdFileKillSwitches(config, context);
    case 'webhook':
      return new WebhookKillSwitches(config, context);
  }
}

/**
 * How one kill switch ended: `off` (turned off and read back off), `unverified` (the provider
 * accepted the change but cannot read state back) or `failed` (still on, or unreachable).
 */
export type FlagOutcome = 'off' | 'unverified' | 'failed';

/** One kill switch's result, for the log, the job summary and notifications. */
export interface FlagResult {
  flag: string;
  provider: KillSwitchProviderKind | 'none';
  environment?: string;
  outcome: FlagOutcome;
  /** The state read back after turning it off, when it could be read. */
  state?: FlagState;
  detail: string;
}

export interface DisableKillSwitchesOptions {
  runtime: ActionRuntime;
  /** Flags to turn off; defaults to the plan's `flags.killSwitches`. */
  names?: readonly string[];
  /** Why: carried into the flag service's audit log or the commit message. */
  reason: string;
  clock: Clock;
  /** Repository checkout for `flagd-file` (defaults to the working directory). */
  cwd?: string;
  /** Tries per flag when turning off or reading back fails (each HTTP call also retries). */
  attempts?: number;
}

/**
 * Turns every named kill switch off, reads each back and reports each. Never throws for a flag
 * service's failure: a flag that could not be turned off comes back `failed`, so the caller
 * (rollback) finishes everything else first and then fails loudly.
 */
export async function disableKillSwitches(plan: Plan, options: DisableKillSwitchesOptions): Promise<FlagResult[]> {
  const { runtime } = options;
  const names = [...new Set(options.names ?? plan.flags?.killSwitches ?? [])];
  if (names.length === 0) return [];
  if (!plan.flags) {
    const results = names.map<FlagResult>((flag) => ({
      flag,
      provider: 'none',
      outcome: 'failed',
      detail: 'the plan has no `flags` section, so there is no flag service to turn it off in',
    }));
    for (const r of results) runtime.error(`kill switch ${r.flag}: ${r.detail}`);
    return results;
  }
  const provider = createKillSwitchProvider(plan.flags, { clock: options.clock, planEnvironment: plan.environment, cwd: options.cwd });
  const attempts = Math.max(1, options.attempts ?? 2);
  const results: FlagResult[] = [];
  for (const flag of names) {
    const result = await turnOffOne(provider, flag, { service: plan.service, reason: options.reason }, attempts, options.clock);
    results.push(result);
    const line = `kill switch ${flag} (${provider.kind}, ${provider.environment}): ${result.outcome} — ${result.detail}`;
    if (result.outcome === 'failed') runtime.error(line);
    else if (result.outcome === 'unverified') runtime.warning(line);
    else runtime.info(line);
  }
  return results;
}

async function turnOffOne(provider: KillSwitchProvider, flag: string, context: { service: string; reason: string }, attempts: number, clock: Clock): Promise<FlagResult> {
  const base = { flag, provider: provider.kind, environment: provider.environment };
  let lastProblem = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await clock.sleep(1000 * (attempt - 1));
    try {
      await provider.turnOff(flag, context);
    } catch (err) {
      lastProblem = `could not turn it off: ${describeError(err)}`;
      continue;
    }
    let state: FlagState;
    try {
      state = await provider.readState(flag);
    } catch (err) {
      lastProblem = `turned off, but reading it back failed: ${describeError(err)}`;
      continue;
    }
    switch (state) {
      case 'off':
        return { ...base, outcome: 'off', state, detail: 'turned off and read back off' };
      case 'unknown':
        return { ...base, outcome: 'unverified', state, detail: `accepted by the ${provider.kind}, which cannot be read back` };
      case 'on':
        lastProblem = 'still reads on after turning it off';
        break;
    }
  }
  const tries = attempts > 1 ? `; gave up after trying ${attempts} times` : '';
  return { ...base, outcome: 'failed', detail: `${lastProblem}${tries}` };
}

/** Markdown for the job summary: one row per kill switch. */
export function formatFlagResults(results: readonly FlagResult[]): string {
  if (results.length === 0) return '';
  const icon = (o: FlagOutcome): string => {
    switch (o) {
      case 'off':
        return '✅ off';
      case 'unverified':
        return '⚠️ unverified';
      case 'failed':
        return '❌ failed';
    }
  };
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = results.map((r) => `| \`${cell(r.flag)}\` | ${r.provider} | ${cell(r.environment ?? '')} | ${icon(r.outcome)} | ${cell(r.detail)} |`);
  return ['### Kill switches', '', '| flag | provider | environment | outcome | detail |', '| --- | --- | --- | --- | --- |', ...rows, ''].join('\n');
}

/** The one-line failure a step ends with when some kill switch could not be turned off, or undefined. */
export function killSwitchFailure(results: readonly FlagResult[]): string | undefined {
  const failed = results.filter((r) => r.outcome === 'failed');
  if (failed.length === 0) return undefined;
  return `${failed.length} kill switch${failed.length === 1 ? '' : 'es'} could not be turned off: ${failed.map((r) => `${r.flag} (${r.detail})`).join('; ')}`;
}

export interface VerifyKillSwitchesOptions {
  runtime: ActionRuntime;
  clock: Clock;
  /** The plan file, to name it in the error. */
  file?: string;
  cwd?: string;
}

/** One kill switch's existence as checked before a rollout. */
export interface FlagCheck {
  flag: string;
  existence: FlagExistence;
}

/**
 * Checks at the start of a rollout that every kill switch in the plan exists, so a typo is found
 * before traffic moves rather than during an incident. Throws PlanError naming each missing flag,
 * and ProviderError when the flag service cannot be asked (a rollback could not use it either).
 */
export async function verifyKillSwitchesExist(plan: Plan, options: VerifyKillSwitchesOptions): Promise<FlagCheck[]> {
  const flags = plan.flags;
  if (!flags || flags.killSwitches.length === 0) return [];
  const provider = createKillSwitchProvider(flags, { clock: options.clock, planEnvironment: plan.environment, cwd: options.cwd });
  const checks: FlagCheck[] = [];
  const missing: string[] = [];
  for (const [i, flag] of flags.killSwitches.entries()) {
    let existence: FlagExistence;
    try {
      existence = await provider.exists(flag);
    } catch (err) {
      throw new ProviderError(
        provider.kind,
        `cannot check kill switch ${flag} before the rollout (a rollback could not turn it off either): ${describeError(err).replace(/^[^:]+: /, '')}`,
      );
    }
    checks.push({ flag, existence });
    switch (existence) {
      case 'exists':
        options.runtime.info(`kill switch ${flag} exists (${provider.kind}, ${provider.environment})`);
        break;
      case 'unverifiable':
        options.runtime.warning(`kill switch ${flag}: the ${provider.kind} provider cannot check that it exists`);
        break;
      case 'missing':
        missing.push(`flags.killSwitches[${i}]: flag ${JSON.stringify(flag)} does not exist in ${where(flags, provider.environment)}`);
        break;
    }
  }
  if (missing.length > 0) throw new PlanError(options.file ?? 'rollout plan', missing);
  return checks;
}

function where(flags: FlagsConfig, environment: string): string {
  switch (flags.provider) {
    case 'unleash':
      return `Unleash project ${flags.project}, environment ${environment}`;
    case 'launchdarkly':
      return `LaunchDarkly project ${flags.project}, environment ${environment}`;
    case 'flagd-file':
      return `flag file ${flags.file}`;
    case 'webhook':
      return 'the flags webhook';
  }
}
