import { UserError } from '../errors.js';
import type { Colour } from '../traffic/provider.js';

/**
 * The life of one rollout of a service to an environment, as every action sees it. This file is
 * the one place that says which change each action may make in which phase; the actions ask it
 * (through `transition`) and never write a phase themselves. docs/rollout-state.md draws it.
 *
 *   (none) ─deploy→ deploying ─traffic→ canary(step, gate) ─promote→ promoting ─promoted→ promoted
 *                       └─abort→ aborted          any phase ─rollback→ rolling-back ─done→ rolled-back
 */
export type Phase = 'deploying' | 'canary' | 'promoting' | 'promoted' | 'rolling-back' | 'rolled-back' | 'aborted';

/** Phases in which no rollout is in progress: a new one may start. */
export const SETTLED_PHASES: readonly Phase[] = ['promoted', 'rolled-back', 'aborted'];

/** A gate's standing at one traffic step. */
export type GateStanding = 'pending' | 'passed' | 'failed' | 'skipped';

/** One traffic step of a rollout and the gate's verdict on it. */
export interface StepRecord {
  /** The canary's share at this step, as read back from the traffic layer. */
  weight: number;
  /** The version the canary slot ran when this step was judged. */
  version: string;
  gate: GateStanding;
  /** The analysis verdict (pass, fail, inconclusive, error) when a gate ran. */
  verdict?: string;
  /** Why: the gate's reason, or the reason given for skipping it. */
  reason?: string;
  at: string;
  by: string;
}

/** The action that is moving this rollout's traffic now. */
export interface LockHolder {
  owner: string;
  action: string;
  since: string;
  /** Refreshed at every change and during bakes: a lock idle for long belongs to a runner that died. */
  heartbeat: string;
}

/** One change to the record: the audit trail of who changed what. */
export interface HistoryEntry {
  at: string;
  by: string;
  action: string;
  change: string;
  generation: number;
}

/** Who let a rollout go past the share its risk class stops at, and why. */
export interface Approval {
  by: string;
  reason: string;
  at: string;
}

/** The rollout record, as the store keeps it. */
export interface RolloutRecord {
  schema: 1;
  service: string;
  environment: string;
  strategy: 'canary' | 'blue-green' | 'rolling';
  phase: Phase;
  /** Bumped when a rollout starts and by every rollback: an action that finds it changed stops without a traffic write. */
  generation: number;
  /** The version this rollout brings (the canary slot's, or the idle colour's). */
  version: string;
  /** Who started this rollout. */
  startedBy: string;
  startedAt: string;
  /** The version each slot (stable, canary, blue, green) runs, as far as rollgate put it there. */
  slots: Partial<Record<'stable' | 'canary' | Colour, string>>;
  /** The version that served before this rollout and is the one rollback restores. */
  lastGood?: string;
  /** Blue-green: the colour serving now, and the one it took over from. */
  live?: Colour;
  previous?: Colour;
  /** The canary's share as last read back (blue-green: 100 once switched). */
  weight: number;
  steps: StepRecord[];
  /** The stable slot was redeployed with `version` during a promotion: it no longer runs `lastGood`. */
  stableOverwritten: boolean;
  lock?: LockHolder;
  /**
   * Why the phase could not finish, when the last action stopped short of it: rollback moved
   * traffic onto a stable that cannot serve, or an action was interrupted mid-way. Cleared by the
   * next change of phase or step.
   */
  stalled?: string;
  /** The release policy's `approvalAbove` for this release's risk class: no step past it, nor promotion, without `approval`. */
  approvalAbove?: number;
  riskClass?: string;
  approval?: Approval;
  history: HistoryEntry[];
}

/** Every change an action can ask for. */
export type RolloutEvent =
  | {
      kind: 'start';
      version: string;
      strategy: RolloutRecord['strategy'];
      live?: Colour;
      weight: number;
      abandoned?: boolean;
      knownGood?: string;
      approvalAbove?: number;
      riskClass?: string;
    }
  | { kind: 'approve'; by: string; reason: string }
  | { kind: 'traffic-given'; weight: number; live?: Colour; previous?: Colour }
  | { kind: 'abort'; reason: string }
  | { kind: 'step'; weight: number }
  | { kind: 'gate'; standing: 'passed' | 'failed'; verdict: string; reason: string }
  | { kind: 'skip-gate'; reason: string }
  | { kind: 'promote' }
  | { kind: 'redeploy-stable' }
  | { kind: 'promoted' }
  | { kind: 'rollback'; reason: string; strategy?: RolloutRecord['strategy'] }
  | { kind: 'rolled-back'; restored?: { version: string; live?: Colour; previous?: Colour } }
  | { kind: 'rollback-unserved'; weight: number; detail: string }
  | { kind: 'interrupted'; during: string }
  | { kind: 'heartbeat' }
  | { kind: 'release' };

/** A change the state machine refuses: names the phase and what to run instead. */
export class RolloutStateError extends UserError {
  override readonly name = 'RolloutStateError';
}

/** Keeps the history short enough for a store document; the GitHub store's commits keep all of it. */
const HISTORY_LIMIT = 50;

/** The step the canary is at now, if any. */
export function currentStep(record: RolloutRecord): StepRecord | undefined {
  return record.steps[record.steps.length - 1];
}

/**
 * Whether promotion is allowed now, and why not: a gate at the current weight, for the version
 * the canary runs, passed (or was skipped on purpose) in this rollout, with nothing moved since.
 */
export function promotionBlocker(record: RolloutRecord): string | undefined {
  if (record.phase !== 'canary') return `the rollout is ${describePhase(record)}, not at a judged canary step`;
  const step = currentStep(record);
  if (!step) return 'no traffic step is on record';
  if (step.version !== record.version) return `the gate judged ${step.version}, but the rollout is of ${record.version}`;
  if (Math.abs(step.weight - record.weight) >= 0.5) return `the gate judged the canary at ${step.weight}%, but it has ${record.weight}% now`;
  if (step.gate === 'passed' || step.gate === 'skipped') return undefined;
  return `the gate at ${step.weight}% is ${step.gate}`;
}

/** Why the canary may not go to `weight` yet: its risk class stops at `approvalAbove` until an approval is on record. */
export function approvalBlocker(record: RolloutRecord, weight: number): string | undefined {
  if (record.approvalAbove === undefined || weight <= record.approvalAbove || record.approval) return undefined;
  return `this ${record.riskClass ? `${record.riskClass}-risk ` : ''}release goes no further than ${record.approvalAbove}% without an approval (the release policy's approvalAbove): run ramp with the input approval, in a job whose environment requires reviewers`;
}

/**
 * Applies `event` to `record` (undefined: no rollout on record yet) for `by`, or throws
 * RolloutStateError when this phase does not allow it. Pure: the caller stores the result.
 */
export function transition(
  record: RolloutRecord | undefined,
  event: RolloutEvent,
  ctx: { by: string; action: string; now: string; service: string; environment: string },
): RolloutRecord {
  const refuse = (why: string): never => {
    throw new RolloutStateError(
      `${ctx.service}/${ctx.environment}: ${ctx.action} cannot ${describeEvent(event)}: ${why}. Next safe step: ${record ? nextSafeStep(record) : 'run deploy-canary'}`,
    );
  };
  const log = (next: RolloutRecord, change: string): RolloutRecord => {
    next.history = [...next.history, { at: ctx.now, by: ctx.by, action: ctx.action, change, generation: next.generation }].slice(-HISTORY_LIMIT);
    if (next.lock?.owner === ctx.by) next.lock = { ...next.lock, heartbeat: ctx.now };
    return next;
  };
  if (event.kind === 'start') {
    if (record && !SETTLED_PHASES.includes(record.phase) && record.startedBy !== ctx.by && !event.abandoned)
      refuse(`a rollout of ${record.version} by ${record.startedBy} is ${describePhase(record)}`);
    // What serves now: from this record's last settled rollout, else what the deployment records call good.
    const stable = (record?.phase === 'promoted' || record?.phase === 'rolled-back' || record?.phase === 'aborted' ? stableVersionOf(record) : record?.lastGood) ?? event.knownGood;
    const next: RolloutRecord = {
      schema: 1,
      service: ctx.service,
      environment: ctx.environment,
      strategy: event.strategy,
      phase: 'deploying',
      generation: (record?.generation ?? 0) + 1,
      version: event.version,
      startedBy: ctx.by,
      startedAt: ctx.now,
      slots: { ...(record?.slots ?? {}) },
      lastGood: stable,
      live: event.live,
      previous: undefined,
      weight: event.weight,
      steps: [],
      stableOverwritten: false,
      lock: record?.lock,
      ...(event.approvalAbove !== undefined ? { approvalAbove: event.approvalAbove, riskClass: event.riskClass } : {}),
      history: record?.history ?? [],
    };
    return log(next, `started the rollout of ${event.version}${stable ? ` (${stable} serves)` : ''}`);
  }
  if (!record && event.kind === 'rollback') {
    // A manual rollback with nothing on record: the record starts here, in the phase it is in.
    return log(
      {
        schema: 1,
        service: ctx.service,
        environment: ctx.environment,
        strategy: event.strategy ?? 'canary',
        phase: 'rolling-back',
        generation: 1,
        version: '?',
        startedBy: ctx.by,
        startedAt: ctx.now,
        slots: {},
        weight: 0,
        steps: [],
        stableOverwritten: false,
        history: [],
      },
      `rollback started (${event.reason})`,
    );
  }
  if (!record) return refuse('no rollout is on record');
  const next: RolloutRecord = structuredClone(record);
  // A note on why the phase stalled holds only until something changes the rollout again.
  if (!['heartbeat', 'release', 'interrupted'].includes(event.kind)) delete next.stalled;
  switch (event.kind) {
    case 'traffic-given':
      if (record.phase !== 'deploying') refuse(`the rollout is ${describePhase(record)}`);
      next.phase = 'canary';
      next.weight = event.weight;
      if (event.live) next.live = event.live;
      if (event.previous) next.previous = event.previous;
      if (event.live) next.slots[event.live] = record.version;
      else if (record.strategy === 'rolling') next.slots.stable = record.version;
      else next.slots.canary = record.version;
      next.steps = [{ weight: event.weight, version: record.version, gate: 'pending', at: ctx.now, by: ctx.by }];
      return log(next, `${record.version} serves ${event.live ? `as ${event.live}` : `${event.weight}% as canary`}; gate pending`);
    case 'abort':
      if (record.phase !== 'deploying') refuse(`the rollout is ${describePhase(record)}; only a deploy that moved no traffic can be aborted`);
      next.phase = 'aborted';
      return log(next, `aborted before traffic moved: ${event.reason}`);
    case 'step': {
      if (record.phase !== 'canary') refuse(`the rollout is ${describePhase(record)}`);
      const unapproved = approvalBlocker(record, event.weight);
      if (unapproved) refuse(unapproved);
      next.weight = event.weight;
      next.steps = [...record.steps, { weight: event.weight, version: record.version, gate: 'pending', at: ctx.now, by: ctx.by }];
      return log(next, `canary at ${event.weight}%; gate pending`);
    }
    case 'approve':
      if (record.phase !== 'canary' && record.phase !== 'promoting') refuse(`the rollout is ${describePhase(record)}`);
      next.approval = { by: event.by, reason: event.reason, at: ctx.now };
      return log(next, `approved${record.approvalAbove !== undefined ? ` past ${record.approvalAbove}%` : ''} by ${event.by}: ${event.reason}`);
    case 'gate':
    case 'skip-gate': {
      if (record.phase !== 'canary') refuse(`the rollout is ${describePhase(record)}`);
      const step = currentStep(record);
      if (!step) return refuse('no traffic step is on record');
      const standing: GateStanding = event.kind === 'gate' ? event.standing : 'skipped';
      next.steps[next.steps.length - 1] = { ...step, gate: standing, verdict: event.kind === 'gate' ? event.verdict : undefined, reason: event.reason, at: ctx.now, by: ctx.by };
      return log(next, `gate at ${step.weight}% for ${step.version}: ${standing}${event.reason ? ` (${event.reason})` : ''}`);
    }
    case 'promote': {
      const blocker = promotionBlocker(record) ?? approvalBlocker(record, 100);
      if (blocker) refuse(blocker);
      next.phase = 'promoting';
      return log(next, `promoting ${record.version}`);
    }
    case 'redeploy-stable':
      if (record.phase !== 'promoting') refuse(`the rollout is ${describePhase(record)}`);
      // Written before the stable slot is touched: a rollback after this point knows it must redeploy it.
      next.stableOverwritten = true;
      next.slots.stable = record.version;
      return log(next, `the stable slot is being redeployed with ${record.version} (it no longer runs ${record.lastGood ?? 'the last good version'})`);
    case 'promoted':
      if (record.phase !== 'promoting') refuse(`the rollout is ${describePhase(record)}`);
      next.phase = 'promoted';
      next.lastGood = record.version;
      next.stableOverwritten = false;
      next.weight = record.strategy === 'blue-green' ? 100 : 0;
      if (record.strategy !== 'blue-green') next.slots.stable = record.version;
      return log(next, `promoted ${record.version}`);
    case 'rollback':
      // Rollback always proceeds, from any phase: it is the way out of every one of them.
      next.phase = 'rolling-back';
      next.generation = record.generation + 1;
      return log(next, `rollback started (${event.reason})${record.lock && record.lock.owner !== ctx.by ? `; took over from ${record.lock.action} by ${record.lock.owner}` : ''}`);
    case 'rolled-back':
      if (record.phase !== 'rolling-back') refuse(`the rollout is ${describePhase(record)}`);
      next.phase = 'rolled-back';
      next.weight = 0;
      next.stableOverwritten = false;
      if (event.restored) {
        // A manual rollback put a named version back: it is what serves, and the good one from now on.
        next.lastGood = event.restored.version;
        if (event.restored.live) {
          next.slots[event.restored.live] = event.restored.version;
          next.live = event.restored.live;
          next.previous = event.restored.previous;
        } else next.slots.stable = event.restored.version;
        return log(next, `rolled back by redeploying ${event.restored.version}`);
      }
      if (record.strategy !== 'blue-green' && record.lastGood) next.slots.stable = record.lastGood;
      if (record.strategy === 'blue-green' && record.previous) {
        next.live = record.previous;
        next.previous = undefined;
        next.lastGood = record.slots[record.previous] ?? record.lastGood;
      }
      return log(next, `rolled back${record.lastGood ? ` to ${record.lastGood}` : ''}`);
    case 'rollback-unserved':
      // The weights moved, but users are not served: the rollback is not done until stable serves,
      // so the phase stays rolling-back and the next rollback run confirms and finishes it.
      if (record.phase !== 'rolling-back') refuse(`the rollout is ${describePhase(record)}`);
      next.weight = event.weight;
      next.stalled = event.detail;
      return log(next, `traffic moved off the canary, but ${event.detail}`);
    case 'interrupted':
      // Only a rollout in progress can be left half-way; a rollback's own note must not be overwritten.
      if (SETTLED_PHASES.includes(record.phase) || record.phase === 'rolling-back') refuse(`the rollout is ${describePhase(record)}`);
      next.stalled = `${ctx.action} was interrupted during ${event.during}`;
      return log(next, `interrupted during ${event.during}`);
    case 'heartbeat':
      // Proof of life only: not worth a line in the history.
      if (next.lock?.owner === ctx.by) next.lock = { ...next.lock, heartbeat: ctx.now };
      return next;
    case 'release':
      next.lock = undefined;
      return log(next, 'released the lock');
  }
}

/** The version the stable slot (blue-green: the live colour) runs after a settled rollout. */
function stableVersionOf(record: RolloutRecord): string | undefined {
  if (record.strategy === 'blue-green') return record.live ? record.slots[record.live] : record.lastGood;
  if (record.phase === 'promoted') return record.version;
  return record.slots.stable ?? record.lastGood;
}

/** `canary at 50%, gate passed`, `promoting`, `rolled back`: for messages and summaries. */
export function describePhase(record: RolloutRecord): string {
  switch (record.phase) {
    case 'deploying':
      return `deploying ${record.version}`;
    case 'canary': {
      const step = currentStep(record);
      if (record.strategy === 'blue-green') return `live on ${record.live ?? '?'} with ${record.version}, gate ${step?.gate ?? 'pending'}`;
      if (record.strategy === 'rolling') return `rolled out ${record.version} to every pod, not yet promoted`;
      return `canary at ${record.weight}% with ${record.version}, gate ${step?.gate ?? 'pending'}`;
    }
    case 'promoting':
      return `promoting ${record.version}${record.stableOverwritten ? ' (stable slot already redeployed)' : ''}`;
    case 'promoted':
      return `promoted ${record.version}`;
    case 'rolling-back':
      return record.stalled ? `rolling back, not finished: ${record.stalled}` : 'rolling back';
    case 'rolled-back':
      return `rolled back from ${record.version}`;
    case 'aborted':
      return `aborted (${record.version} never got traffic)`;
  }
}

/** What the on-call should run next, given the record. */
export function nextSafeStep(record: RolloutRecord | undefined): string {
  if (!record) return 'run deploy-canary to start a rollout';
  // An interrupted run says so first: what it left behind is the phase below, unfinished.
  const interrupted = record.stalled && record.phase !== 'rolling-back' ? `${record.stalled}; ` : '';
  return interrupted + nextStepFor(record);
}

function nextStepFor(record: RolloutRecord): string {
  const step = currentStep(record);
  switch (record.phase) {
    case 'deploying':
      return `deploy-canary of ${record.version} is running or died before giving it traffic: wait for it, or run rollback`;
    case 'canary':
      if (step?.gate === 'failed') return `run rollback (the gate failed at ${step.weight}%); re-running ramp judges ${step.weight}% again`;
      if ((step?.gate === 'passed' || step?.gate === 'skipped') && record.approvalAbove !== undefined && !record.approval && record.weight >= record.approvalAbove)
        return `run ramp with the input approval (who approved and why) to go past ${record.approvalAbove}%, or rollback`;
      if (step?.gate === 'passed' || step?.gate === 'skipped')
        return `run ramp to continue ${record.strategy === 'blue-green' ? 'and promote' : `from ${record.weight}%`}, or rollback`;
      return `run ramp (it judges ${record.strategy === 'blue-green' ? (record.live ?? 'the live colour') : `the canary at ${record.weight}%`} first), or rollback`;
    case 'promoting':
      return `re-run ramp to finish promoting ${record.version}, or run rollback${record.stableOverwritten ? ` (it redeploys the stable slot with ${record.lastGood ?? 'the last good version'})` : ''}`;
    case 'promoted':
      return `nothing: ${record.version} is stable. To undo it, run rollback with to: previous`;
    case 'rolling-back':
      if (record.stalled)
        return 'bring the stable server back (check it and its health check), then run rollback again: it confirms stable serves and finishes; rollgate will not send users back to the canary on its own';
      return 'rollback did not finish: run rollback again';
    case 'rolled-back':
      return `fix ${record.version} and run deploy-canary with a new version`;
    case 'aborted':
      return `fix the deploy of ${record.version} and run deploy-canary again`;
  }
}

function describeEvent(event: RolloutEvent): string {
  switch (event.kind) {
    case 'start':
      return `start a rollout of ${event.version}`;
    case 'traffic-given':
      return 'give the canary traffic';
    case 'abort':
      return 'abort the rollout';
    case 'step':
      return `move the canary to ${event.weight}%`;
    case 'gate':
      return 'record a gate verdict';
    case 'skip-gate':
      return 'skip the gate';
    case 'promote':
      return 'promote';
    case 'redeploy-stable':
      return 'redeploy the stable slot';
    case 'promoted':
      return 'finish the promotion';
    case 'rollback':
      return 'roll back';
    case 'rolled-back':
      return 'finish the rollback';
    case 'rollback-unserved':
      return 'record a rollback onto a stable that cannot serve';
    case 'interrupted':
      return 'record an interruption';
    case 'approve':
      return 'record an approval';
    case 'heartbeat':
      return 'refresh the lock';
    case 'release':
      return 'release the lock';
  }
}

/** Reads a stored document as a record; anything else (an older or hand-edited document) is undefined. */
export function parseRecord(document: Record<string, unknown> | undefined): RolloutRecord | undefined {
  if (!document || document.schema !== 1 || typeof document.phase !== 'string' || typeof document.generation !== 'number') return undefined;
  return document as unknown as RolloutRecord;
}
