import { ProviderError, UserError } from '../errors.js';
import type { DeployConfig } from '../plan/schema.js';
import { asRecord, asRecords, Kubectl, type KubeObject } from '../traffic/kubectl.js';

type KubernetesDeployConfig = NonNullable<DeployConfig['kubernetes']>;

/** The annotation that remembers a canary's replica count while it is scaled to 0 between rollouts. */
export const REPLICAS_ANNOTATION = 'rollgate.dev/replicas';
const DEPLOYMENT = 'deployments.apps';

export interface KubernetesDeployDeps {
  log: (line: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal?: AbortSignal;
}

/** The Deployment that holds a slot: canary, stable, blue, green; `deployment` alone is the rolling one. */
export function deploymentForSlot(config: KubernetesDeployConfig, slot: string): string {
  const field = ({ canary: 'canaryDeployment', stable: 'stableDeployment', blue: 'blueDeployment', green: 'greenDeployment' } as const)[
    slot as 'canary' | 'stable' | 'blue' | 'green'
  ];
  const name = (field && config[field]) ?? config.deployment;
  if (!name) throw new UserError(`deploy.kubernetes.${field ?? 'deployment'}: is required to deploy to slot ${slot} (the Deployment whose image is set)`);
  return name;
}

function kubectl(config: KubernetesDeployConfig, deps: KubernetesDeployDeps): Kubectl {
  return new Kubectl({ context: config.context, namespace: config.namespace, env: deps.env, cwd: deps.cwd, log: deps.log, provider: 'deploy' });
}

/** The argument vectors of one deploy, in order, without the reads around them (for logs and tests). */
export function deployArgs(config: KubernetesDeployConfig & { timeout: number }, deployment: string, image: string): string[][] {
  const k = new Kubectl({ context: config.context, namespace: config.namespace });
  return [
    [k.binary, ...k.globalArgs(), 'set', 'image', `deployment/${deployment}`, `${config.container}=${image}`],
    [k.binary, ...k.globalArgs(), 'rollout', 'status', `deployment/${deployment}`, `--timeout=${Math.ceil(config.timeout / 1000)}s`],
  ];
}

/**
 * Puts `image` into the slot's Deployment: restores its replicas if an earlier promotion scaled it
 * to 0, `kubectl set image`, then `kubectl rollout status --timeout` (the readiness probes decide),
 * and reads the image back.
 */
export async function deployToKubernetes(config: DeployConfig, slot: string, image: string, deps: KubernetesDeployDeps): Promise<void> {
  const k8s = config.kubernetes;
  if (!k8s) throw new UserError('deploy.kubernetes: is required here');
  const name = deploymentForSlot(k8s, slot);
  const k = kubectl(k8s, deps);
  const before = await k.get(DEPLOYMENT, name, deps.signal);
  containerImage(before, k8s.container, k.describe(DEPLOYMENT, name));
  const spec = asRecord(before.spec) ?? {};
  const remembered = Number(before.metadata?.annotations?.[REPLICAS_ANNOTATION]);
  if (spec.replicas === 0 && Number.isInteger(remembered) && remembered > 0) {
    deps.log(`${name} was scaled to 0 after the last promotion: restoring ${remembered} replica(s)`);
    await k.patch(DEPLOYMENT, name, { type: 'merge', patch: { spec: { replicas: remembered } } }, { signal: deps.signal });
  }
  await k.command(['set', 'image', `deployment/${name}`, `${k8s.container}=${image}`], `setting the image of ${k.describe(DEPLOYMENT, name)}`, { signal: deps.signal });
  const seconds = Math.ceil(config.timeout / 1000);
  await k
    .command(['rollout', 'status', `deployment/${name}`, `--timeout=${seconds}s`], `waiting for ${k.describe(DEPLOYMENT, name)} to roll out`, {
      signal: deps.signal,
      timeoutMs: config.timeout + 30_000,
    })
    .catch((err: unknown) => {
      throw new ProviderError(
        'deploy',
        `${k.describe(DEPLOYMENT, name)} did not become ready within ${seconds}s with ${image} (${err instanceof Error ? err.message : String(err)}); its pods' readiness probes decide: check \`kubectl describe\` and the pod logs`,
      );
    });
  const after = await k.get(DEPLOYMENT, name, deps.signal);
  const found = containerImage(after, k8s.container, k.describe(DEPLOYMENT, name));
  if (found !== image)
    throw new ProviderError('deploy', `${k.describe(DEPLOYMENT, name)}: read-back shows container ${k8s.container} running ${found ?? 'no image'}, expected ${image}`);
}

/** After promotion the canary serves nothing: scale it to 0, remembering its size for the next rollout. */
export async function scaleDownCanary(config: DeployConfig, deps: KubernetesDeployDeps): Promise<{ deployment: string; replicas: number } | undefined> {
  const k8s = config.kubernetes;
  if (!k8s?.canaryDeployment) return undefined;
  const k = kubectl(k8s, deps);
  const name = k8s.canaryDeployment;
  const before = await k.get(DEPLOYMENT, name, deps.signal);
  const replicas = asRecord(before.spec)?.replicas;
  if (replicas === 0) return { deployment: name, replicas: 0 };
  const count = typeof replicas === 'number' ? replicas : 1;
  await k.patch(
    DEPLOYMENT,
    name,
    { type: 'merge', patch: { metadata: { annotations: { [REPLICAS_ANNOTATION]: String(count) } }, spec: { replicas: 0 } } },
    { signal: deps.signal },
  );
  const after = await k.get(DEPLOYMENT, name, deps.signal);
  if (asRecord(after.spec)?.replicas !== 0)
    throw new ProviderError(
      'deploy',
      `${k.describe(DEPLOYMENT, name)}: read-back after scaling to 0 shows ${String(asRecord(after.spec)?.replicas)} replicas (is an autoscaler managing it?)`,
    );
  return { deployment: name, replicas: count };
}

/** The image of the named container; a Deployment without that container is the plan's mistake, named. */
export function containerImage(deployment: KubeObject, container: string, resource: string): string | undefined {
  const containers = asRecords(asRecord(asRecord(asRecord(deployment.spec)?.template)?.spec)?.containers);
  const found = containers.find((c) => c.name === container);
  if (!found)
    throw new UserError(
      `deploy.kubernetes.container: ${resource} has no container named ${JSON.stringify(container)} (it has: ${containers.map((c) => String(c.name)).join(', ') || 'none'})`,
    );
  return typeof found.image === 'string' ? found.image : undefined;
}
