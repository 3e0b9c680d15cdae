import { homedir, hostname, userInfo } from 'node:os';
import { join } from 'node:path';

/** The state directory: ROLLGATE_STATE_DIR, else ~/.rollgate/state. A runner-local cache at most, never the rollout's state. */
export function stateDirectory(env: NodeJS.ProcessEnv): string {
  return env.ROLLGATE_STATE_DIR?.trim() || join(homedir(), '.rollgate', 'state');
}

/** Who is rolling out: the workflow run (re-runs of it count as the same rollout), else the person at the terminal. */
export function rolloutOwner(env: NodeJS.ProcessEnv): string {
  if (env.ROLLGATE_RUN_ID?.trim()) return env.ROLLGATE_RUN_ID.trim();
  if (env.GITHUB_RUN_ID) return `${env.GITHUB_REPOSITORY ?? 'github'} run ${env.GITHUB_RUN_ID}`;
  let user = 'someone';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry in some containers */
  }
  return `${user}@${hostname()}`;
}
