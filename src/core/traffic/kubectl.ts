import { ProviderError } from '../errors.js';
import { runCommand } from '../exec.js';

/** Where kubectl points: the plan's `context` and `namespace`, both optional (kubeconfig defaults). */
export interface KubeTarget {
  context?: string;
  namespace?: string;
}

/** A JSON patch operation (RFC 6902); `test` guards the position of what the next op replaces. */
export type JsonPatchOp =
  { op: 'test'; path: string; value: unknown } | { op: 'replace'; path: string; value: unknown } | { op: 'add'; path: string; value: unknown } | { op: 'remove'; path: string };

/** One write rollgate makes: a merge patch or a JSON patch of the fields it owns, never a whole object. */
export type KubePatch = { type: 'merge'; patch: Record<string, unknown> } | { type: 'json'; patch: JsonPatchOp[] };

/** A Kubernetes object as `kubectl get -o json` prints it; only the parts rollgate reads are typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; generation?: number; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: unknown;
  status?: unknown;
}

export interface KubectlOptions extends KubeTarget {
  /** The kubectl program; `kubectl` from PATH unless set (e.g. a pinned binary). */
  binary?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Per call (default 60 s); a kubectl that outlives it is stopped with its process group. */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** The provider kind that prefixes every error (`gateway-api: patching …`); `kubectl` unless set. */
  provider?: string;
}

/** A resource as the messages name it: `httproutes.gateway.networking.k8s.io/orders in namespace shop`. */
export function describeResource(resource: string, name: string, target: KubeTarget): string {
  return `${resource}/${name}${target.namespace ? ` in namespace ${target.namespace}` : ''}${target.context ? ` (context ${target.context})` : ''}`;
}

/**
 * Runs kubectl with argument vectors, so the user's kubeconfig, contexts and credential plugins
 * apply as they do at a terminal. Every failure is a ProviderError naming the resource.
 */
export class Kubectl {
  readonly binary: string;
  readonly provider: string;
  constructor(private readonly options: KubectlOptions = {}) {
    this.binary = options.binary ?? 'kubectl';
    this.provider = options.provider ?? 'kubectl';
  }

  /** The global flags every call carries: context and namespace. */
  globalArgs(): string[] {
    const args: string[] = [];
    if (this.options.context) args.push('--context', this.options.context);
    if (this.options.namespace) args.push('--namespace', this.options.namespace);
    return args;
  }

  /** The argument vector for reading one object as JSON. */
  getArgs(resource: string, name: string): string[] {
    return [this.binary, ...this.globalArgs(), 'get', resource, name, '--output', 'json'];
  }

  /** The argument vector for one patch; `subresource` is for status writes (Argo Rollouts' abort/promote). */
  patchArgs(resource: string, name: string, patch: KubePatch, subresource?: 'status'): string[] {
    return [
      this.binary,
      ...this.globalArgs(),
      'patch',
      resource,
      name,
      '--type',
      patch.type,
      '--patch',
      JSON.stringify(patch.patch),
      ...(subresource ? ['--subresource', subresource] : []),
    ];
  }

  /** Reads one object; a missing one is a ProviderError that names it. */
  async get<T extends KubeObject = KubeObject>(resource: string, name: string, signal?: AbortSignal): Promise<T> {
    const out = await this.run(this.getArgs(resource, name), `reading ${this.describe(resource, name)}`, signal);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new ProviderError(this.provider, `reading ${this.describe(resource, name)}: kubectl printed something that is not JSON: ${out.slice(0, 200)}`);
    }
  }

  /** Applies one patch; the caller reads the object back to verify it. */
  async patch(resource: string, name: string, patch: KubePatch, options: { subresource?: 'status'; signal?: AbortSignal } = {}): Promise<void> {
    await this.run(this.patchArgs(resource, name, patch, options.subresource), `patching ${this.describe(resource, name)}`, options.signal);
  }

  /** Runs any kubectl subcommand (set image, rollout status, scale, rollout undo) with the global flags. */
  async command(args: string[], what: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<string> {
    return this.run([this.binary, ...this.globalArgs(), ...args], what, options.signal, options.timeoutMs);
  }

  /** How messages name a resource of this target. */
  describe(resource: string, name: string): string {
    return describeResource(resource, name, this.options);
  }

  private async run(argv: string[], what: string, signal?: AbortSignal, timeoutMs = this.options.timeoutMs ?? 60_000): Promise<string> {
    this.options.log?.(`$ ${argv.map(quoteForLog).join(' ')}`);
    const result = await runCommand(argv, { env: this.options.env, cwd: this.options.cwd, timeoutMs, signal }).catch((err: unknown) => {
      const detail = err instanceof Error ? err.message : String(err);
      throw new ProviderError(this.provider, `${what}: ${/no such program/.test(detail) ? `${this.binary} is not installed or not on PATH` : detail}`, true);
    });
    if (result.exitCode !== 0) {
      const reason = (result.stderr.trim() || result.stdout.trim() || `exit status ${result.exitCode}`).split('\n').slice(-3).join(' | ');
      const notFound = /NotFound|not found/i.test(reason);
      throw new ProviderError(
        this.provider,
        `${what}: ${notFound ? `it does not exist (${reason})` : reason}`,
        !notFound && /timeout|connection refused|i\/o timeout|TLS handshake|ServiceUnavailable|too many requests/i.test(reason),
      );
    }
    return result.stdout;
  }
}

function quoteForLog(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Escapes one JSON-pointer segment (RFC 6901): `~` → `~0`, `/` → `~1`. */
export function pointerSegment(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Narrows an unknown JSON value to a plain object, or undefined. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Narrows an unknown JSON value to an array of plain objects (anything else in it dropped to {}). */
export function asRecords(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map((v) => asRecord(v) ?? {}) : [];
}
