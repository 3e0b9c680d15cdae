// Generates the rollout plan's JSON Schema (schema/rollout.schema.json) and its reference page
// (docs/plan.md) from the zod schema the actions validate with, so neither can drift from it.
// Run by scripts/build.mjs; `tsx scripts/plan-reference.ts --check` exits 1 when either is stale.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { planJsonSchema, PLAN_SCHEMA_URL } from '../src/core/plan/json-schema.js';

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  pattern?: string;
  additionalProperties?: Schema | boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What the schema cannot say: the meaning of each field, keyed by its path in the plan. */
const NOTES: Record<string, string> = {
  service: 'The service name: the `{{service}}` placeholder, the rollout record and the deployment records are keyed by it.',
  environment: 'The environment (e.g. production): GitHub Deployment environment and rollout record key.',
  strategy: 'canary (weights through `steps`), blue-green (one switch between colours) or rolling (a Kubernetes Deployment updated in place).',
  traffic: 'How traffic moves between the slots. One of the providers below, chosen by `provider`.',
  deploy: 'How a version reaches a slot: a command template (`{{slot}}`, `{{version}}`) or a Kubernetes Deployment.',
  readiness: 'Polled after the deploy until it answers 2xx; nothing gets traffic before.',
  smoke: 'Requests that must succeed against the new version before it gets its first slice.',
  metrics: 'The metrics backend the gate queries. One of the providers below, chosen by `provider`.',
  analysis: 'How the gate judges canary against stable: cadence, bake time, limits and checks.',
  'analysis.requests': 'Query counting requests per track over `{{window}}`; below `minRequests` a measurement is inconclusive.',
  'analysis.checks': 'The checks; each needs at least one limit.',
  'analysis.checks[].query': 'Query with `{{track}}` (stable|canary) and `{{window}}`; it must return one series.',
  'analysis.checks[].max': 'Absolute ceiling on the canary value.',
  'analysis.checks[].min': 'Absolute floor on the canary value (business KPIs: lower is worse).',
  'analysis.checks[].maxIncrease': 'canary − stable may not exceed this.',
  'analysis.checks[].maxDecrease': 'stable − canary may not exceed this.',
  'analysis.checks[].maxRatio': 'canary / stable may not exceed this.',
  'analysis.checks[].minRatio': 'canary / stable may not fall below this.',
  'analysis.checks[].for': 'A breach must persist this long before it counts.',
  'analysis.minRequests': 'Below this many requests (per `requests`) a measurement is inconclusive.',
  'analysis.failureLimit': 'Failed measurements tolerated before the gate fails.',
  'analysis.inconclusiveLimit': 'Inconclusive measurements a check may have and still pass; unset: fewer than its passes.',
  'analysis.consecutiveErrorLimit': 'Backend errors tolerated in a row (a flaky backend is not a bad canary).',
  'analysis.onInconclusive': 'Whether an inconclusive gate fails (default) or passes.',
  'analysis.window': 'The range each measurement looks back over; defaults to `interval`. Set it to the interval plus one scrape interval, so no data falls between windows.',
  'analysis.judge': 'threshold (limits per measurement), mann-whitney (unpaired, Kayenta-style) or paired (window by window, sequential); docs/statistical-judge.md.',
  'analysis.minBake': 'The paired judge may stop early, never before this much of the bake (slow-burning faults).',
  'analysis.failOn':
    'paired judge: `significant` (a change is shown and its estimate is beyond the tolerance) or `beyond-tolerance` (the whole interval is beyond it: for tracks that drift apart on their own).',
  'analysis.alpha': 'False-failure rate of the statistical judges (the paired judge holds it however often it looks).',
  'traffic.admin': 'HAProxy runtime API: host:port, or unix:/path/to/admin.sock. It has no authentication: keep it on localhost or a private network (docs/runners.md).',
  'traffic.backend': 'The HAProxy backend that holds both slots.',
  'traffic.stable': 'Server (slot) name of stable in the backend.',
  'traffic.canary': 'Server (slot) name of the canary in the backend.',
  'traffic.maxWeight': 'The absolute HAProxy weight that means all traffic (1–256).',
  'traffic.setWeight': 'Command template run with `{{weight}}` (the canary share, 0–100).',
  'traffic.getWeight': 'Command that prints the canary share (0–100) on stdout.',
  'metrics.address': 'Base URL of the metrics backend.',
  'metrics.headers': 'HTTP headers sent with every query, e.g. `Authorization: "Bearer ${PROM_TOKEN}"`.',
  steps: 'Canary weights, increasing; the last is usually 100 (promotion).',
  flags: 'Kill switches turned off on rollback. One of the providers below, chosen by `provider`.',
  notify: 'A Slack-compatible webhook told about promotions, rollbacks and gate failures.',
  runbook: 'Linked from summaries and notifications.',
  irreversible: 'Set once a contract-phase migration shipped: the previous version can no longer run.',
  checklist: 'Overrides of the pre-deploy checklist items, by id (docs/pre-deploy-checklist.md).',
};

function typeOf(s: Schema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.pattern && s.description?.startsWith('A duration')) return 'duration';
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return alternatives.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  if (s.type === 'object' && !s.properties && s.additionalProperties && typeof s.additionalProperties === 'object') return `map of ${typeOf(s.additionalProperties)}`;
  if (Array.isArray(s.type)) return s.type.join(' or ');
  return s.type ?? 'any';
}

function valueAt(example: unknown, path: string): unknown {
  let cursor: unknown = example;
  for (const part of path.split('.')) {
    const key = part.replace(/\[\]$/, '');
    if (cursor === null || typeof cursor !== 'object') return undefined;
    cursor = (cursor as Record<string, unknown>)[key];
    if (part.endsWith('[]')) cursor = Array.isArray(cursor) ? cursor[0] : undefined;
  }
  return cursor;
}

function cell(value: unknown): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `\`${text.replace(/\|/g, '\\|').replace(/`/g, "'")}\``;
}

interface Row {
  path: string;
  schema: Schema;
  required: boolean;
}

function rows(schema: Schema, prefix: string, out: Row[]): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    out.push({ path, schema: child, required: schema.required?.includes(key) ?? false });
    const object = child.type === 'array' && child.items ? child.items : child;
    if (object.properties) rows(object, child.type === 'array' ? `${path}[]` : path, out);
  }
}

function table(schema: Schema, prefix: string, example: unknown): string[] {
  const list: Row[] = [];
  rows(schema, prefix, list);
  const lines = ['| Field | Type | Default | Description | Example |', '| --- | --- | --- | --- | --- |'];
  for (const { path, schema: s, required } of list) {
    const note = NOTES[path] ?? (s.description?.startsWith('A duration') ? '' : (s.description ?? ''));
    const dflt = s.default !== undefined ? cell(s.default) : required ? 'required' : '';
    const sample = valueAt(example, path);
    const shown = sample !== undefined && (typeof sample !== 'object' || Array.isArray(sample)) ? cell(sample) : '';
    lines.push(`| \`${path}\` | ${typeOf(s).replace(/\|(?! )/g, '\\|')} | ${dflt} | ${note.replace(/\|/g, '\\|')} | ${shown} |`);
  }
  return lines;
}

/** docs/plan.md: every field with its type, default and meaning, and the README plan's values as examples. */
export function planReference(schema: Schema, example: unknown): string {
  const out = [
    '<!-- Generated by scripts/plan-reference.ts from src/core/plan/schema.ts: edit those, then npm run build. -->',
    '# The rollout plan: reference',
    '',
    'Every field of `.github/rollout.yml`, generated from the schema the actions validate with. The',
    "Example column shows the value in the README's plan. Durations are written `500ms`, `30s`, `5m`,",
    '`1h` or `1m30s`; `${VAR}` in a string is replaced by the environment variable (and masked in logs).',
    'Unknown keys are errors.',
    '',
    'Editors (VS Code with the YAML extension, JetBrains IDEs) complete and check a plan as you type',
    `when its first line names the schema, [schema/rollout.schema.json](../schema/rollout.schema.json):`,
    '',
    '```yaml',
    `# yaml-language-server: $schema=${PLAN_SCHEMA_URL}`,
    'service: orders',
    'environment: production',
    '```',
    '',
    'Replace `OWNER` with the account that hosts rollgate, and `v1` with the version you use.',
    '',
    '## Top level',
    '',
  ];
  const top: Schema = { properties: {}, required: schema.required };
  const unions: [string, Schema][] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    top.properties![key] = child;
    if (child.oneOf) unions.push([key, child]);
  }
  const flat: Schema = { properties: Object.fromEntries(Object.entries(top.properties!).filter(([, s]) => !s.oneOf)), required: schema.required };
  out.push(...table(flat, '', example));
  for (const [key, union] of unions) {
    out.push('', `## \`${key}\``, '', NOTES[key] ?? '', '');
    for (const member of union.oneOf ?? []) {
      const provider = member.properties?.provider?.const;
      out.push(`### \`${key}.provider: ${String(provider)}\``, '');
      const sample = (valueAt(example, `${key}.provider`) === provider ? example : undefined) as unknown;
      out.push(...table(member, key, sample), '');
    }
  }
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

/** The README's rollout plan: the first YAML block under "The rollout plan". */
export function readmePlan(readme: string): unknown {
  const section = readme.slice(readme.indexOf('### The rollout plan'));
  const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return parse(block);
}

const schema = planJsonSchema();
const files: [string, string][] = [
  ['schema/rollout.schema.json', `${JSON.stringify(schema, null, 2)}\n`],
  ['docs/plan.md', planReference(schema as Schema, readmePlan(readFileSync(join(root, 'README.md'), 'utf8')))],
];
if (process.argv.includes('--check')) {
  const stale = files.filter(([file, text]) => {
    try {
      return readFileSync(join(root, file), 'utf8') !== text;
    } catch {
      return true;
    }
  });
  for (const [file] of stale) console.error(`${file} is stale: run npm run build`);
  process.exit(stale.length ? 1 : 0);
}
for (const [file, text] of files) {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), text);
  console.log(`${file} regenerated`);
}
