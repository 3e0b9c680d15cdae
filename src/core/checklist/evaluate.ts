import type { Plan } from '../plan/schema.js';
import type { LintReport } from '../migrations/lint.js';
import type { ChecklistItem } from './items.js';
import { lastSafeRollbackPoint, notApplicableReason, type TaskItem } from './parse.js';

/** Where an item stands after its evidence was checked. */
export type ItemState = 'ticked' | 'not-applicable' | 'unticked' | 'missing' | 'contradicted' | 'not-required';

export interface ItemResult {
  id: string;
  title: string;
  state: ItemState;
  /** The N/A reason, or why the item fails. */
  reason: string;
  passed: boolean;
}

/** What the repository shows, independent of what the PR body claims. */
export interface ChecklistEvidence {
  /** The rollout plan, or why it could not be used. */
  plan: { ok: true; plan: Plan; file: string } | { ok: false; problem: string };
  /** Whether the PR adds or changes migrations. */
  migrationsChanged: boolean;
  lint: LintReport;
}

/** Fewer words than this is not a reason, it is a shrug ("N/A", "N/A: no"). */
export const MIN_REASON_WORDS = 3;

/** Judges every checklist item against the PR body and the evidence in the repository. */
export function evaluateChecklist(items: readonly ChecklistItem[], found: ReadonlyMap<string, TaskItem>, evidence: ChecklistEvidence): ItemResult[] {
  return items.filter((item) => item.required !== 'never').map((item) => evaluateItem(item, found.get(item.id), evidence));
}

function isPassing(state: ItemState): boolean {
  switch (state) {
    case 'ticked':
    case 'not-applicable':
    case 'not-required':
      return true;
    case 'unticked':
    case 'missing':
    case 'contradicted':
      return false;
  }
}

function result(item: ChecklistItem, state: ItemState, reason: string): ItemResult {
  return { id: item.id, title: item.title, state, reason, passed: isPassing(state) };
}

function evaluateItem(item: ChecklistItem, task: TaskItem | undefined, evidence: ChecklistEvidence): ItemResult {
  const lintErrors = evidence.lint.findings.filter((f) => f.severity === 'error');
  // The linter's verdict stands whatever the box says: a ticked box cannot outvote an error.
  if (item.evidence === 'migration-lint' && lintErrors.length > 0) {
    const first = lintErrors[0];
    return result(item, 'contradicted', `the migration linter reports ${lintErrors.length} error(s), first ${first?.file}:${first?.line} [${first?.rule}]`);
  }
  if (item.required === 'when-migrations' && !evidence.migrationsChanged) {
    return result(item, 'not-required', 'this PR changes no migrations');
  }
  if (!task) return result(item, 'missing', `no task item with <!-- rollgate:${item.id} --> in the PR body`);

  const na = notApplicableReason(task.text);
  if (na !== undefined) {
    if (!item.allowNotApplicable) return result(item, 'contradicted', 'this item cannot be marked N/A');
    const words = na.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
    if (words < MIN_REASON_WORDS) return result(item, 'unticked', `N/A needs a reason of at least ${MIN_REASON_WORDS} words (N/A: <reason>)`);
    if (item.evidence === 'runbook' && evidence.lint.irreversible) {
      return result(item, 'contradicted', 'this PR is irreversible (a contract migration): the runbook item must name the last safe rollback point');
    }
    return result(item, 'not-applicable', na);
  }
  if (!task.checked) return result(item, 'unticked', 'not ticked (tick it, or write N/A: <reason>)');
  return checkEvidence(item, task, evidence);
}

function checkEvidence(item: ChecklistItem, task: TaskItem, evidence: ChecklistEvidence): ItemResult {
  switch (item.evidence) {
    case 'none':
    case 'migration-lint':
      return result(item, 'ticked', '');
    case 'link':
      return task.links.length > 0 ? result(item, 'ticked', task.links[0] ?? '') : result(item, 'contradicted', 'ticked without a link (add the http(s) link)');
    case 'runbook': {
      if (task.links.length === 0) return result(item, 'contradicted', 'ticked without a link to the runbook');
      if (evidence.lint.irreversible) {
        const point = lastSafeRollbackPoint(task.text);
        if (!point) return result(item, 'contradicted', 'this PR is irreversible (a contract migration): add "last safe rollback point: <version>" to the runbook item');
        return result(item, 'ticked', `${task.links[0] ?? ''}; last safe rollback point ${point}`);
      }
      return result(item, 'ticked', task.links[0] ?? '');
    }
    case 'rollout-plan': {
      if (!evidence.plan.ok) return result(item, 'contradicted', evidence.plan.problem);
      const { plan, file } = evidence.plan;
      if (!plan.analysis || plan.analysis.checks.length === 0) return result(item, 'contradicted', `${file} has no analysis checks (no abort threshold)`);
      if (!plan.steps || plan.steps.length === 0) return result(item, 'contradicted', `${file} has no traffic steps`);
      return result(item, 'ticked', `${file}: ${plan.analysis.checks.length} check(s), steps ${plan.steps.join(' → ')}`);
    }
    case 'kill-switch': {
      if (!evidence.plan.ok) return result(item, 'contradicted', `ticked, but the kill switch cannot be verified: ${evidence.plan.problem}`);
      const switches = evidence.plan.plan.flags?.killSwitches ?? [];
      if (switches.length === 0) return result(item, 'contradicted', `ticked, but ${evidence.plan.file} names no kill switch (flags.killSwitches)`);
      return result(item, 'ticked', `kill switch ${switches.join(', ')}`);
    }
  }
}
