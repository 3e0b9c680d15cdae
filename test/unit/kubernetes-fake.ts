// Test support for the Kubernetes providers: a fake cluster driven through a fake `kubectl` on
// PATH (see kubernetes-fake-kubectl.mjs), and validation against the published API schemas kept
// under test/fixtures/schemas/.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { tempDir } from '../../harness/process.js';

const RESOURCE_DIRS: Record<string, string> = {
  services: 'services',
  endpoints: 'endpoints',
  deployments: 'deployments.apps',
  ingresses: 'ingresses.networking.k8s.io',
  httproutes: 'httproutes.gateway.networking.k8s.io',
  virtualservices: 'virtualservices.networking.istio.io',
  trafficsplits: 'trafficsplits.split.smi-spec.io',
  rollouts: 'rollouts.argoproj.io',
};
export type FakeResource = keyof typeof RESOURCE_DIRS;

/** A directory of JSON objects that the fake kubectl reads and patches. */
export class FakeCluster {
  readonly root = tempDir('rollgate-kube-');
  readonly bin = join(this.root.path, 'bin');
  readonly store = join(this.root.path, 'store');

  constructor() {
    mkdirSync(this.bin, { recursive: true });
    mkdirSync(this.store, { recursive: true });
    const kubectl = join(this.bin, 'kubectl');
    copyFileSync(join(process.cwd(), 'test/unit/kubernetes-fake-kubectl.mjs'), kubectl);
    chmodSync(kubectl, 0o755);
  }

  /** The environment a provider runs kubectl with: the fake first on PATH. */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, PATH: `${this.bin}:${process.env.PATH ?? ''}`, FAKE_KUBE_DIR: this.store };
  }

  private file(resource: FakeResource, name: string, where: { context?: string; namespace?: string }): string {
    return join(this.store, where.context ?? 'default', where.namespace ?? 'default', RESOURCE_DIRS[resource] as string, `${name}.json`);
  }

  /** Stores an object as the API server would hold it. */
  seed(
    resource: FakeResource,
    object: { metadata: { name: string; annotations?: Record<string, string> } } & Record<string, unknown>,
    where: { context?: string; namespace?: string } = {},
  ): void {
    const file = this.file(resource, object.metadata.name, where);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, JSON.stringify({ ...object, metadata: { generation: 1, ...object.metadata } }, null, 2));
  }

  /** The object as stored now. */
  stored<T = Record<string, unknown>>(resource: FakeResource, name: string, where: { context?: string; namespace?: string } = {}): T {
    return JSON.parse(readFileSync(this.file(resource, name, where), 'utf8')) as T;
  }

  /** Every argument vector kubectl was called with, oldest first (without the program name). */
  calls(): string[][] {
    const file = join(this.store, 'calls.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as string[]);
  }

  clearCalls(): void {
    rmSync(join(this.store, 'calls.jsonl'), { force: true });
  }

  /** Turns on a fault: `unreachable`, `ignore-writes`, `controller-stopped`. */
  fault(name: 'unreachable' | 'ignore-writes' | 'controller-stopped', on = true): void {
    const file = join(this.store, name);
    if (on) writeFileSync(file, '');
    else rmSync(file, { force: true });
  }

  remove(): void {
    this.root.remove();
  }
}

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
const compiled = new Map<string, ValidateFunction>();

/** Validates an object against one of the published schemas; returns the problems, empty when valid. */
export function schemaProblems(schema: string, object: unknown): string[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/schemas', schema), 'utf8')) as object);
    compiled.set(schema, validate);
  }
  return validate(object) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
