import { ProviderError, UserError } from '../errors.js';
import { runCommand } from '../exec.js';
import type { DeployConfig } from '../plan/schema.js';
import { commandFromTemplate } from '../template.js';
import { deployToKubernetes } from './kubernetes.js';

/** What a deploy places where: a version into a slot (canary, stable, or a colour). */
export interface DeployTarget {
  slot: string;
  version: string;
  service: string;
  environment: string;
}

export interface DeployDeps {
  log: (line: string) => void;
  group: <T>(title: string, fn: () => Promise<T>) => Promise<T>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal?: AbortSignal;
}

/** Runs the plan's `deploy` step for one slot; a non-zero exit is a ProviderError with the script's last lines. */
export async function deployToSlot(config: DeployConfig, target: DeployTarget, deps: DeployDeps): Promise<void> {
  if (!config.command && config.kubernetes)
    return deps.group(`deploy ${target.version} to ${target.slot} (Kubernetes)`, () => deployToKubernetes(config, target.slot, target.version, deps));
  if (!config.command) throw new UserError('deploy: expected `command:` or `kubernetes:`');
  const argv = commandFromTemplate(config.command, { ...target, track: target.slot }, 'deploy.command');
  await deps.group(`deploy ${target.version} to ${target.slot}: ${argv.join(' ')}`, async () => {
    const result = await runCommand(argv, { cwd: deps.cwd, env: deps.env, timeoutMs: config.timeout, signal: deps.signal, onLine: (line) => deps.log(line) });
    if (result.exitCode !== 0) {
      const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' | ');
      throw new ProviderError('deploy', `deploy.command (${argv[0]}) exited with status ${result.exitCode} for slot ${target.slot}${tail ? `: ${tail}` : ''}`);
    }
  });
}
