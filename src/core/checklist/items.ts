import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { InputError } from '../errors.js';

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

const itemOverrideSchema = z.strictObject({
  title: z.string({ error: 'expected the text shown for the item' }).min(1).optional(),
  required: z
    .union([z.boolean(), z.enum(['always', 'when-migrations', 'never'])], { error: 'expected true, false, always, when-migrations or never' })
    .optional(),
  allowNotApplicable: z.boolean({ error: 'expected true or false' }).optional(),
  evidence: z.enum(['none', 'link'], { error: 'expected none or link (the built-in items keep their own evidence)' }).optional(),
});

const configSchema = z.strictObject({
  items: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'expected an item id of lower-case letters, digits and -' }), itemOverrideSchema, {
    error: 'expected a mapping of item ids to settings',
  }),
});

/**
 * The checklist for this run: the defaults with the `config` input applied. `config` is a YAML
 * or JSON file path, or the YAML itself; unknown ids add items of their own.
 */
export function resolveChecklist(config: string | undefined): ChecklistItem[] {
  const items = DEFAULT_ITEMS.map((i) => ({ ...i }));
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
  if (typeof raw === 'string') throw new InputError('config', `no such file ${JSON.stringify(config)} (expected a file path or YAML such as "items: {dashboards: {required: false}}")`);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new InputError('config', `${where}: ${problems.join('; ')}`);
  }
  for (const [id, override] of Object.entries(parsed.data.items)) {
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
  return items;
}
