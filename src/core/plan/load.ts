import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isNode, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { PlanError } from '../errors.js';
import { planSchema, type Plan, type PlanSection } from './schema.js';

/** One action input that replaces one plan field for this run. */
export interface PlanOverride {
  path: (string | number)[];
  value: unknown;
  /** The input (or CLI flag) it came from, for error messages. */
  input: string;
}

export interface LoadPlanOptions {
  /** Sections the calling action cannot work without. */
  require?: PlanSection[];
  /** Sections the calling action uses when present (flags, notify, …). */
  reads?: PlanSection[];
  overrides?: PlanOverride[];
  env?: NodeJS.ProcessEnv;
  /** Called with every value taken from the environment, so it is masked in logs. */
  onSecret?: (value: string) => void;
  cwd?: string;
  /**
   * Validate strictly only `service`, `environment`, `strategy` and the `require`d sections; a
   * problem anywhere else (unknown key, unset `${VAR}`, bad value) leaves that section out of
   * the plan and comes back in `problems` instead of failing the load. For rollback, which must
   * move traffic whatever else is wrong with the plan.
   */
  lenient?: boolean;
}

export interface LoadedPlan {
  plan: Plan;
  /** The plan file as the user named it (or `(inputs)` for a plan built from inputs). */
  file: string;
  /** Lenient loads only: what was wrong outside the required sections, each left out of `plan`. */
  problems?: string[];
  /** Lenient loads only: the sections left out, as written (after interpolation), e.g. to name the kill switches a broken `flags` section lists. */
  leftOut?: Record<string, unknown>;
}

const ENV_REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Reads, interpolates, overrides and validates a rollout plan file. Throws PlanError. */
export function loadPlanFile(file: string, options: LoadPlanOptions = {}): LoadedPlan {
  const path = isAbsolute(file) ? file : resolve(options.cwd ?? process.cwd(), file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PlanError(file, [code === 'ENOENT' ? 'no such file (set the `plan` input to your rollout plan)' : `cannot be read (${code ?? 'unknown error'})`]);
  }
  return parsePlanText(text, file, options);
}

/** Validates a plan given as YAML text; `file` names it in errors. */
export function parsePlanText(text: string, file: string, options: LoadPlanOptions = {}): LoadedPlan {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PlanError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}invalid YAML: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unresolved aliases and alias bombs surface only when the document is converted.
    throw new PlanError(file, [`invalid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (raw === null || raw === undefined) throw new PlanError(file, ['is empty: expected a mapping with at least `service` and `environment`']);
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new PlanError(file, ['expected a mapping at the top level (service, environment, …)']);
  return validatePlanObject(raw as Record<string, unknown>, file, options, (p) => lineOf(doc, lineCounter, p));
}

/** Validates a plan given as an object (a plan built from action inputs, or parsed YAML). */
export function validatePlanObject(
  raw: Record<string, unknown>,
  file: string,
  options: LoadPlanOptions = {},
  lineOfPath: (path: (string | number)[]) => number | undefined = () => undefined,
): LoadedPlan {
  const problems: string[] = [];
  const strict = new Set<string>(['service', 'environment', 'strategy', ...(options.require ?? [])]);
  const lenientProblems: string[] = [];
  const used = new Set<string>(['service', 'environment', 'strategy', ...(options.require ?? []), ...(options.reads ?? [])]);
  const unresolved = new Set<string>();
  const missingEnv = new Set<string>();
  const interpolated = interpolate(raw, [], options.env ?? process.env, options.onSecret, (path, name) => {
    const section = String(path[0]);
    missingEnv.add(formatPath(path));
    const problem = `${formatPath(path)}${at(lineOfPath(path))}: environment variable ${name} is not set`;
    if (options.lenient && !strict.has(section)) {
      // Left out of this run's plan, and reported after the work that needs only the strict sections.
      if (used.has(section)) lenientProblems.push(`${problem} (${section} left out)`);
      unresolved.add(section);
    } else if (used.has(section)) problems.push(problem);
    else unresolved.add(section);
  }) as Record<string, unknown>;
  // A variable used only by a section this action never reads (say, the rollback webhook
  // during a gate) must not stop it: that section is left out of this run's plan.
  const leftOut: Record<string, unknown> = {};
  for (const section of unresolved) {
    leftOut[section] = interpolated[section];
    delete interpolated[section];
  }

  const overridden = new Map<string, string>();
  for (const o of options.overrides ?? []) {
    setAt(interpolated, o.path, o.value);
    overridden.set(formatPath(o.path), o.input);
  }

  for (const section of options.require ?? []) {
    if (interpolated[section] === undefined) problems.push(`${section}: is required by this action`);
  }

  if (options.lenient) dropInvalidSections(interpolated, strict, (issue) => describeIssue(issue, overridden, lineOfPath), lenientProblems, leftOut);
  const result = planSchema.safeParse(interpolated, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      // An unset variable was reported already; its literal `${NAME}` failing validation is noise.
      if (missingEnv.has(formatPath(issue.path.filter((p): p is string | number => typeof p !== 'symbol')))) continue;
      problems.push(describeIssue(issue, overridden, lineOfPath));
    }
  }
  if (problems.length > 0) throw new PlanError(file, dedupe(problems));
  return { plan: (result as { data: Plan }).data, file, ...(options.lenient ? { problems: dedupe(lenientProblems), leftOut } : {}) };
}

/**
 * Lenient loading: removes every top-level key outside `strict` that does not validate (and
 * unknown top-level keys), so the strict sections are judged on their own. Repeats because a
 * cross-section rule can name a section only once another is gone.
 */
function dropInvalidSections(
  plan: Record<string, unknown>,
  strict: Set<string>,
  describe: (issue: z.core.$ZodIssue) => string,
  problems: string[],
  leftOut: Record<string, unknown>,
): void {
  for (let round = 0; round < 4; round++) {
    const result = planSchema.safeParse(plan, { reportInput: true });
    if (result.success) return;
    let dropped = false;
    for (const issue of result.error.issues) {
      const top = issue.path[0];
      if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
        for (const key of issue.keys) {
          problems.push(`${key}: unknown key (left out)`);
          leftOut[key] = plan[key];
          delete plan[key];
          dropped = true;
        }
        continue;
      }
      if (typeof top !== 'string' || strict.has(top) || !(top in plan)) continue;
      problems.push(`${describe(issue)} (${top} left out)`);
      leftOut[top] = plan[top];
      delete plan[top];
      dropped = true;
    }
    if (!dropped) return;
  }
}

function describeIssue(issue: z.core.$ZodIssue, overridden: Map<string, string>, lineOfPath: (path: (string | number)[]) => number | undefined): string {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const field = formatPath(path);
  const input = overridden.get(field);
  const where = input ? `input ${input} (${field})` : `${field || '(top level)'}${at(lineOfPath(path))}`;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => {
        const full = [...path, key];
        return `${formatPath(full)}${at(lineOfPath(full))}: unknown key (a typo would silently disable what it configures)`;
      })
      .join('\n  - ');
  }
  const got = 'input' in issue ? describeValue(issue.input) : undefined;
  const message = issue.code === 'invalid_union' && issue.message === 'Invalid input' ? 'expected a valid value' : issue.message;
  if (got === 'nothing' && issue.code === 'custom') return `${where}: ${message}`;
  if (got === 'nothing') return `${where}: ${message.startsWith('is required') ? message : `is required (${message})`}`;
  return got === undefined ? `${where}: ${message}` : `${where}: ${message}, got ${got}`;
}

function describeValue(value: unknown): string | undefined {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return undefined;
}

/** `analysis.checks[1].maxRatio` */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out;
}

function at(line: number | undefined): string {
  return line ? ` (line ${line})` : '';
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

function lineOf(doc: Document, counter: LineCounter, path: (string | number)[]): number | undefined {
  // Walk down as far as the document goes: a missing field points at its parent.
  let node: unknown = doc.contents;
  let found: Node | undefined = isNode(node) ? node : undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isNode(p.key) ? (p.key as { value?: unknown }).value === key : p.key === key));
      if (!pair) return undefined;
      found = isNode(pair.key) ? pair.key : found;
      node = pair.value;
      if (isNode(node) && !isMap(node) && !isSeq(node)) found = node;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (!isNode(node)) return undefined;
      found = node;
    } else return undefined;
  }
  const offset = found?.range?.[0];
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

function interpolate(
  value: unknown,
  path: (string | number)[],
  env: NodeJS.ProcessEnv,
  onSecret: ((v: string) => void) | undefined,
  onMissing: (path: (string | number)[], name: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (match, name: string | undefined) => {
      if (name === undefined) return '${'; // `$${` escapes a literal `${`
      const found = env[name];
      if (found === undefined || found === '') {
        onMissing(path, name);
        return match;
      }
      onSecret?.(found);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, i], env, onSecret, onMissing));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, [...path, k], env, onSecret, onMissing);
    return out;
  }
  return value;
}

function setAt(target: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = target;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (next === null || typeof next !== 'object') node[key] = typeof path[i + 1] === 'number' ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  });
}
