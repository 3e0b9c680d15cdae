import { describeError } from '../errors.js';
import { runCommand } from '../exec.js';
import { deployedRef, deploymentRecordsFor } from '../github/factory.js';
import { effectiveState } from '../github/records.js';
import { getListInput } from '../inputs.js';
import { isMigrationPath } from '../migrations/layouts.js';
import type { ActionRuntime } from '../runtime.js';
import type { ChangeSet } from './risk.js';

/** Whether a contract migration ships, or any migration changed, given the paths and the `irreversible` flags. */
export function migrationsOf(paths: readonly string[] | undefined, irreversible: boolean): ChangeSet['migrations'] {
  if (irreversible) return 'contract';
  return paths?.some(isMigrationPath) ? 'any' : 'none';
}

/** Files changed between two commits, with git; undefined and why when git cannot tell. */
export async function gitChangedPaths(revisions: string[], cwd: string): Promise<{ paths?: string[]; problem?: string }> {
  const run = await runCommand(['git', 'diff', '--name-only', '-z', ...revisions, '--'], { cwd, timeoutMs: 60_000 });
  if (run.exitCode !== 0)
    return { problem: `git diff ${revisions.join(' ')} failed (fetch the history, e.g. actions/checkout with fetch-depth: 0): ${run.stderr.trim().split('\n')[0] ?? ''}` };
  return { paths: run.stdout.split('\0').filter(Boolean) };
}

/**
 * What this release changes: the `changed-files` input when given; otherwise `git diff` between
 * the ref of the environment's newest successful deployment (from the deployment records) and
 * the ref being deployed. When neither works the paths are unknown, and the release counts as
 * high risk.
 */
export async function findReleaseChanges(runtime: ActionRuntime, options: { environment: string; cwd: string; irreversible: boolean }): Promise<ChangeSet> {
  const listed = getListInput(runtime, 'changed-files');
  if (listed !== undefined) return { paths: listed, source: 'input changed-files', migrations: migrationsOf(listed, options.irreversible) };
  const head = deployedRef(runtime);
  const unknown = (why: string): ChangeSet => ({ source: why, migrations: options.irreversible ? 'contract' : 'none' });
  if (head === 'local') return unknown('no ref to compare: set the ref input (or GITHUB_SHA), or list the changes in changed-files');
  let base: string | undefined;
  try {
    const records = deploymentRecordsFor(runtime, { retries: 2 }, options.cwd);
    if (!records) return unknown('records: none, so no last good deployment to compare with; list the changes in changed-files');
    for (const d of (await records.list(options.environment)).slice(0, 30)) {
      if (effectiveState(await records.statuses(d.id)) === 'success') {
        base = d.ref;
        break;
      }
    }
    if (!base) return unknown(`no successful deployment of ${options.environment} is recorded in ${records.location} to compare with`);
  } catch (err) {
    return unknown(`the deployment records could not be read: ${describeError(err)}`);
  }
  const diff = await gitChangedPaths([base, head], options.cwd);
  if (!diff.paths) return unknown(diff.problem ?? 'git diff failed');
  return {
    paths: diff.paths,
    source: `git diff ${base.slice(0, 12)}..${head.slice(0, 12)} (last good deployment to this one)`,
    migrations: migrationsOf(diff.paths, options.irreversible),
  };
}
