import type { ActionName } from './dispatch.js';

/** CLI commands that run an action in one of its modes, with their flags renamed to the action's inputs. */
export const MODES: Record<string, { action: ActionName; set: Record<string, string>; rename: Record<string, string>; about: string }> = {
  'check-plan': { action: 'pre-deploy-checklist', set: { 'check-plan': 'true' }, rename: {}, about: 'validate the plan and run every query once against the live backend' },
  backtest: {
    action: 'metrics-gate',
    set: {},
    rename: { from: 'backtest-from', to: 'backtest-to', json: 'backtest-json', deployments: 'backtest-deployments', limit: 'backtest-limit' },
    about: 'replay the gate over a past window (--from, --to) or every recorded bake window (--deployments)',
  },
};
