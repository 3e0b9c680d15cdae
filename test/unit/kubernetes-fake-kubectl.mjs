#!/usr/bin/env node
// A stand-in for kubectl, for tests on machines with no API server. It keeps objects as JSON files
// under $FAKE_KUBE_DIR/<context>/<namespace>/<resource>/<name>.json, answers the subcommands rollgate
// uses the way kubectl does (output, error text, exit status), applies merge patches (RFC 7386) and
// JSON patches (RFC 6902, `test` included) for real, and logs every argument vector to calls.jsonl.
// For Rollouts it plays a minimal Argo Rollouts controller, unless $FAKE_KUBE_DIR/controller-stopped exists.
// $FAKE_KUBE_DIR/unreachable makes every call fail as an unreachable API server does; with
// $FAKE_KUBE_DIR/ignore-writes, patches answer "patched" but change nothing (a controller reverting them).
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.FAKE_KUBE_DIR;
if (!dir) fail('FAKE_KUBE_DIR is not set', 2);
const argv = process.argv.slice(2);
appendFileSync(join(dir, 'calls.jsonl'), JSON.stringify(argv) + '\n');

const ALIASES = {
  service: 'services',
  services: 'services',
  svc: 'services',
  endpoints: 'endpoints',
  ep: 'endpoints',
  deployment: 'deployments.apps',
  deployments: 'deployments.apps',
  'deployments.apps': 'deployments.apps',
  deploy: 'deployments.apps',
  ingress: 'ingresses.networking.k8s.io',
  ingresses: 'ingresses.networking.k8s.io',
  'ingresses.networking.k8s.io': 'ingresses.networking.k8s.io',
  'httproutes.gateway.networking.k8s.io': 'httproutes.gateway.networking.k8s.io',
  httproute: 'httproutes.gateway.networking.k8s.io',
  'virtualservices.networking.istio.io': 'virtualservices.networking.istio.io',
  virtualservice: 'virtualservices.networking.istio.io',
  'trafficsplits.split.smi-spec.io': 'trafficsplits.split.smi-spec.io',
  trafficsplit: 'trafficsplits.split.smi-spec.io',
  'rollouts.argoproj.io': 'rollouts.argoproj.io',
  rollout: 'rollouts.argoproj.io',
};

// Global flags may come anywhere; pull them out first, as kubectl does.
let context = 'default';
let namespace = 'default';
const rest = [];
const flags = {};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--context') context = argv[++i];
  else if (a === '--namespace' || a === '-n') namespace = argv[++i];
  else if (a.startsWith('--') && a.includes('=')) flags[a.slice(2, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);
  else if (['--output', '-o', '--type', '--patch', '-p', '--subresource', '--timeout', '--replicas'].includes(a)) flags[a.replace(/^-+/, '')] = argv[++i];
  else rest.push(a);
}
if (existsSync(join(dir, 'unreachable'))) fail('The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?', 1);

const [verb, ...args] = rest;
switch (verb) {
  case 'get': {
    const [resource, name] = args;
    const obj = load(resource, name);
    process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
    break;
  }
  case 'patch': {
    const [resource, name] = args;
    const obj = load(resource, name);
    const type = flags.type ?? 'strategic';
    const patch = JSON.parse(flags.patch ?? flags.p);
    const before = JSON.stringify(obj.spec);
    let next;
    if (type === 'merge') next = mergePatch(obj, patch);
    else if (type === 'json') next = jsonPatch(obj, patch);
    else fail(`error: this fake only knows --type merge and --type json, got ${type}`, 1);
    if (flags.subresource === 'status') next = { ...obj, status: next.status };
    else if (next.status !== undefined && JSON.stringify(next.status) !== JSON.stringify(obj.status)) next.status = obj.status; // the main resource ignores status writes
    if (JSON.stringify(next.spec) !== before) next.metadata = { ...next.metadata, generation: (next.metadata?.generation ?? 1) + 1 };
    if (!existsSync(join(dir, 'ignore-writes'))) save(resource, name, next);
    process.stdout.write(`${shortKind(resource)}/${name} patched\n`);
    break;
  }
  case 'set': {
    // set image deployment/NAME CONTAINER=IMAGE
    const [what, ref, assignment] = args;
    if (what !== 'image') fail(`error: unknown command "set ${what}"`, 1);
    const [resource, name] = ref.split('/');
    const obj = load(resource, name);
    const [container, image] = assignment.split('=');
    const containers = obj.spec?.template?.spec?.containers ?? [];
    const c = containers.find((x) => x.name === container);
    if (!c) fail(`error: unable to find container named "${container}"`, 1);
    if (c.image !== image) {
      const before = structuredClone(obj.spec.template);
      c.image = image;
      newRevision(obj, before);
      obj.metadata.generation = (obj.metadata.generation ?? 1) + 1;
    }
    save(resource, name, obj);
    process.stdout.write(`deployment.apps/${name} image updated\n`);
    break;
  }
  case 'rollout': {
    const [sub, ref] = args;
    const [resource, name] = ref.split('/');
    const obj = load(resource, name);
    if (sub === 'status') {
      if (obj.metadata?.annotations?.['fake/never-ready'] === 'true') fail(`error: timed out waiting for the condition`, 1);
      process.stdout.write(`deployment "${name}" successfully rolled out\n`);
    } else if (sub === 'undo') {
      // As the Deployment controller does: the target revision's template comes back under a new,
      // highest revision number, so a plain second undo returns to the template just undone.
      const past = history(obj);
      const wanted = flags['to-revision'];
      const current = revision(obj);
      if (wanted !== undefined && Number(wanted) === current) {
        process.stdout.write(`deployment.apps/${name} skipped rollback (current template already matches revision ${wanted})\n`);
        break;
      }
      const target = wanted !== undefined ? Number(wanted) : Math.max(...Object.keys(past).map(Number));
      if (wanted === undefined && !Number.isFinite(target)) fail(`error: no rollout history found for deployment "${name}"`, 1);
      if (!past[target]) fail(`error: unable to find specified revision ${wanted} in history`, 1);
      const before = obj.spec.template;
      obj.spec.template = past[target];
      newRevision(obj, before);
      save(resource, name, obj);
      process.stdout.write(`deployment.apps/${name} rolled back\n`);
    } else fail(`error: unknown command "rollout ${sub}"`, 1);
    break;
  }
  case 'scale': {
    const [ref] = args;
    const [resource, name] = ref.split('/');
    const obj = load(resource, name);
    obj.spec.replicas = Number(flags.replicas);
    save(resource, name, obj);
    process.stdout.write(`deployment.apps/${name} scaled\n`);
    break;
  }
  default:
    fail(`error: unknown command "${verb}" for "kubectl"`, 1);
}

function resolve(resource) {
  const r = ALIASES[resource];
  if (!r) fail(`error: the server doesn't have a resource type "${resource}"`, 1);
  return r;
}
function file(resource, name) {
  return join(dir, context, namespace, resolve(resource), `${name}.json`);
}
function shortKind(resource) {
  return resolve(resource).split('.')[0].replace(/s$/, '');
}
function load(resource, name) {
  const f = file(resource, name);
  if (!existsSync(f)) fail(`Error from server (NotFound): ${resolve(resource)} "${name}" not found`, 1);
  return JSON.parse(readFileSync(f, 'utf8'));
}
function save(resource, name, obj) {
  const f = file(resource, name);
  mkdirSync(join(f, '..'), { recursive: true });
  if (resolve(resource) === 'rollouts.argoproj.io' && !existsSync(join(dir, 'controller-stopped'))) reconcileRollout(obj);
  writeFileSync(f, JSON.stringify(obj, null, 2));
}
// Earlier pod templates (the old ReplicaSets), by revision, live in an annotation, so the stored
// object stays a valid Deployment; the current revision is in deployment.kubernetes.io/revision.
function history(obj) {
  return JSON.parse(obj.metadata?.annotations?.['fake/history'] ?? '{}');
}
function revision(obj) {
  return Number(obj.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 1);
}
// The template `before` becomes an old ReplicaSet; the current template (reused if it matches an old one) gets the next number.
function newRevision(obj, before) {
  const past = history(obj);
  const current = revision(obj);
  past[current] = before;
  const numbers = [current, ...Object.keys(past).map(Number)];
  for (const [rev, template] of Object.entries(past)) if (JSON.stringify(template) === JSON.stringify(obj.spec.template)) delete past[rev];
  if (obj.metadata.annotations?.['fake/revision-history-limit'] !== undefined) {
    const keep = Number(obj.metadata.annotations['fake/revision-history-limit']);
    for (const rev of Object.keys(past)
      .map(Number)
      .sort((a, b) => b - a)
      .slice(keep))
      delete past[rev];
  }
  obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), 'fake/history': JSON.stringify(past), 'deployment.kubernetes.io/revision': String(Math.max(...numbers) + 1) };
}
function fail(message, code) {
  process.stderr.write(message + '\n');
  process.exit(code);
}

function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function jsonPatch(doc, ops) {
  let out = JSON.parse(JSON.stringify(doc));
  for (const op of ops) {
    const segs = op.path
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segs.pop();
    let parent = out;
    for (const s of segs) {
      parent = Array.isArray(parent) ? parent[Number(s)] : parent?.[s];
      if (parent === undefined || parent === null) invalid(`the server rejected our request: path ${op.path} does not exist`);
    }
    const isArr = Array.isArray(parent);
    const idx = last === '-' ? parent.length : Number(last);
    switch (op.op) {
      case 'test': {
        const cur = isArr ? parent[idx] : parent[last];
        if (JSON.stringify(cur) !== JSON.stringify(op.value)) invalid(`the server rejected our request due to an error in our request: testing value ${op.path} failed`);
        break;
      }
      case 'add':
        if (isArr) {
          if (!(idx >= 0 && idx <= parent.length)) invalid(`the server rejected our request: index ${last} out of bounds at ${op.path}`);
          parent.splice(idx, 0, op.value);
        } else parent[last] = op.value;
        break;
      case 'replace':
        if (isArr ? !(idx >= 0 && idx < parent.length) : !(last in parent))
          invalid(`the server rejected our request: replace operation does not apply: doc is missing key: ${op.path}`);
        if (isArr) parent[idx] = op.value;
        else parent[last] = op.value;
        break;
      case 'remove':
        if (isArr ? !(idx >= 0 && idx < parent.length) : !(last in parent))
          invalid(`the server rejected our request: remove operation does not apply: doc is missing path: ${op.path}`);
        if (isArr) parent.splice(idx, 1);
        else delete parent[last];
        break;
      default:
        invalid(`unknown op ${op.op}`);
    }
  }
  return out;
}
function invalid(message) {
  fail(`The request is invalid: ${message}`, 1);
}

// The smallest Argo Rollouts controller that behaves like the real one for what rollgate touches:
// a change of steps restarts them at 0, a setWeight step moves the routed weight, promoteFull finishes
// the update, abort sends the canary back to 0.
function reconcileRollout(ro) {
  const status = (ro.status ??= {});
  const steps = ro.spec?.strategy?.canary?.steps ?? [];
  const stepsHash = JSON.stringify(steps);
  const updating = status.stableRS && status.currentPodHash && status.stableRS !== status.currentPodHash;
  const annotations = (ro.metadata.annotations ??= {});
  if (annotations['fake/steps-hash'] !== stepsHash) {
    annotations['fake/steps-hash'] = stepsHash;
    status.currentStepIndex = 0;
  }
  let weight = 0;
  if (updating && status.promoteFull) {
    status.stableRS = status.currentPodHash;
    status.promoteFull = false;
    status.currentStepIndex = steps.length;
    status.phase = 'Healthy';
    weight = 0;
  } else if (updating && status.abort) {
    status.phase = 'Degraded';
    weight = 0;
  } else if (updating) {
    let i = status.currentStepIndex ?? 0;
    for (; i < steps.length && steps[i].setWeight !== undefined; i++) weight = steps[i].setWeight;
    status.currentStepIndex = i;
    status.phase = 'Paused';
    status.pauseConditions = [{ reason: 'CanaryPauseStep', startTime: '2026-01-01T00:00:00Z' }];
  } else status.phase = 'Healthy';
  status.canary = {
    ...(status.canary ?? {}),
    weights: { canary: { weight, podTemplateHash: status.currentPodHash ?? '' }, stable: { weight: 100 - weight, podTemplateHash: status.stableRS ?? '' } },
  };
  status.observedGeneration = String(ro.metadata?.generation ?? 1);
}
