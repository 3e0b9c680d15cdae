import type { ActionName } from './dispatch.js';

/** CLI commands that run an action in one of its modes, with their flags renamed to the action's inputs. */
const MODES: Record<string, { action: ActionName; set: Record<string, string>; rename: Record<string, string>; about: string }> = {
  'check-plan': { action: 'pre-deploy-checklist', set: { 'check-plan': 'true' }, rename: {}, about: 'validate the plan and run every query once against the live backend' },
  backtest: {
    action: 'metrics-gate',
    set: {},
    rename: { from: 'backtest-from', to: 'backtest-to', json: 'backtest-json', deployments: 'backtest-deployments', limit: 'backtest-limit' },
    about: 'replay the gate over a past window (--from, --to) or every recorded bake window (--deployments)',
  },
};

export const MODE_NAMES = Object.keys(MODES);

/** One line per mode for the usage text. */
export function describeModes(): string {
  return Object.entries(MODES)
    .map(([name, m]) => `  ${name}: ${m.about} (${m.action})`)
    .join('\n');
}

/** The action a mode runs and its INPUT_* variables; undefined when `name` is not a mode. */
export function resolveMode(name: string, inputs: Record<string, string>): { action: ActionName; inputs: Record<string, string> } | undefined {
  const mode = MODES[name];
  if (!mode) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(inputs)) {
    const flag = key.replace(/^INPUT_/, '').toLowerCase();
    out[`INPUT_${(mode.rename[flag] ?? flag).toUpperCase()}`] = value;
  }
  for (const [flag, value] of Object.entries(mode.set)) out[`INPUT_${flag.toUpperCase()}`] = value;
  return { action: mode.action, inputs: out };
}
