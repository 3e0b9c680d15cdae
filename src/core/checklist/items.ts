import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'yaml';
import { InputError } from '../errors.js';
import { checklistSchema, type ChecklistConfig } from '../plan/schema.js';

/** What, beyond a ticked box, an item needs before it passes. */
export type EvidenceKind = 'none' | 'link' | 'rollout-plan' | 'kill-switch' | 'migration-lint' | 'runbook';

/** When an item must appear in the PR body. */
export type Requirement = 'always' | 'when-migrations' | 'never';

/** One checklist item: matched in the PR body by `<!-- rollgate:<id> -->`. */
export interface ChecklistItem {
  id: string;
  title: string;
  required: Requirement;
  /** Whether `N/A: <reason>` may stand in for a tick. */
  allowNotApplicable: boolean;
  evidence: EvidenceKind;
}

/** The default pre-deploy checklist, in the order it is shown. */
export const DEFAULT_ITEMS: readonly ChecklistItem[] = [
  { id: 'feature-flag', title: 'Change is behind a feature flag with a kill switch', required: 'always', allowNotApplicable: true, evidence: 'kill-switch' },
  { id: 'db-compatible', title: 'Database migration is backward-compatible', required: 'when-migrations', allowNotApplicable: true, evidence: 'migration-lint' },
  { id: 'rollback-artifact', title: 'A verified previous artifact exists to roll back to', required: 'always', allowNotApplicable: false, evidence: 'none' },
  { id: 'canary-plan', title: 'Canary promotion and abort thresholds are written down', required: 'always', allowNotApplicable: false, evidence: 'rollout-plan' },
  { id: 'runbook', title: 'Runbook with rollback and rollforward steps and owners', required: 'always', allowNotApplicable: true, evidence: 'runbook' },
  { id: 'dashboards', title: 'Dashboards and alerts are linked', required: 'always', allowNotApplicable: true, evidence: 'link' },
  { id: 'backfill', title: 'Backfill strategy and validation queries', required: 'when-migrations', allowNotApplicable: true, evidence: 'none' },
  { id: 'communication', title: 'Who is told on rollback', required: 'always', allowNotApplicable: true, evidence: 'none' },
];

/**
 * The checklist for this run: the defaults, then the plan's `checklist:` section, then the
 * `config` input (a YAML or JSON file path, or the YAML itself). Unknown ids add items.
 */
export function resolveChecklist(config: string | undefined, fromPlan?: ChecklistConfig): ChecklistItem[] {
  const items = DEFAULT_ITEMS.map((i) => ({ ...i }));
  if (fromPlan) applyOverrides(items, fromPlan);
  if (!config) return items;
  let text = config;
  let where = 'input config';
  if (!config.includes('\n') && existsSync(config)) {
    text = readFileSync(config, 'utf8');
    where = `input config (${config})`;
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new InputError('config', `${where} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof raw === 'string')
    throw new InputError('config', `no such file ${JSON.stringify(config)} (expected a file path or YAML such as "items: {dashboards: {required: false}}")`);
  const parsed = checklistSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new InputError('config', `${where}: ${problems.join('; ')}`);
  }
  applyOverrides(items, parsed.data);
  return items;
}

function applyOverrides(items: ChecklistItem[], config: ChecklistConfig): void {
  for (const [id, override] of Object.entries(config.items)) {
    let item = items.find((i) => i.id === id);
    if (!item) {
      item = { id, title: override.title ?? id, required: 'always', allowNotApplicable: true, evidence: 'none' };
      items.push(item);
    }
    if (override.title !== undefined) item.title = override.title;
    if (override.required !== undefined) item.required = override.required === true ? 'always' : override.required === false ? 'never' : override.required;
    if (override.allowNotApplicable !== undefined) item.allowNotApplicable = override.allowNotApplicable;
    if (override.evidence !== undefined && item.evidence === 'none') item.evidence = override.evidence;
  }
}
