import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadActionMetadata } from '../../src/core/action-metadata.js';
import { ACTION_NAMES } from '../../src/core/dispatch.js';

// Every input an action's code reads must be declared in its action.yml: the runner passes
// only declared inputs from `with:` (an undeclared one is a warning and reaches nobody), and
// `rollgate <action> --help` and the umbrella action are generated from the declarations.
// The reads are found statically: every input-reading call with a literal name, in every module
// the action's entry imports, directly or not.
const ROOT = process.cwd();
const READ = /\b(?:get(?:Optional|Required|Boolean|Number|Duration|List)Input\(\s*[\w.]+\s*,|\.getInput\()\s*'([^']+)'/g;
const ANY_READ = /\b(?:get(?:Optional|Required|Boolean|Number|Duration|List)Input\(\s*[\w.]+\s*,|\.getInput\()\s*([^'\s)])/g;
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

/**
 * Reads in shared modules that only some actions' calls reach: the scan follows modules, not
 * calls. Each entry names the function that reads and the actions that call it; those actions
 * must declare the input (checked below), the others need not.
 */
const REACHED_ONLY_BY: Record<string, Record<string, (typeof ACTION_NAMES)[number][]>> = {
  // DeploymentRecordHooks.rolledBack: only rollback marks a deployment failed.
  'src/core/github/record-hooks.ts': { cause: ['rollback'], irreversible: ['deploy-canary'], 'deployment-id': ['ramp', 'rollback'] },
  // deployedRef: only the actions that create a deployment record name its commit. The records
  // themselves: every action but the checklist (which reaches them only through the release
  // policy's enforcement, which deploy-canary runs).
  'src/core/github/factory.ts': {
    ref: ['build-and-tag', 'deploy-canary'],
    repository: ['build-and-tag', 'deploy-canary', 'metrics-gate', 'ramp', 'rollback'],
    records: ['build-and-tag', 'deploy-canary', 'metrics-gate', 'ramp', 'rollback'],
    ledger: ['build-and-tag', 'deploy-canary', 'metrics-gate', 'ramp', 'rollback'],
  },
  // enforceReleasePolicy and findReleaseChanges: deploy-canary's gate on the release policy.
  'src/core/policy/enforce.ts': { irreversible: ['deploy-canary'], reason: ['deploy-canary'] },
  'src/core/policy/changes.ts': { 'changed-files': ['deploy-canary'] },
};

/**
 * An action's own orchestration module: another action may import a helper from it (deploy-canary
 * takes RecordsLastGood from build-and-tag's), but its input reads are that action's alone.
 */
const READS_BELONG_TO: Record<string, (typeof ACTION_NAMES)[number]> = {
  'src/core/rollout/build-and-tag.ts': 'build-and-tag',
};

/** The source files an entry reaches through relative imports. */
function importGraph(entry: string): string[] {
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = resolve(dirname(file), (m[1] ?? m[2])!).replace(/\.js$/, '.ts');
      if (existsSync(target)) queue.push(target);
    }
  }
  return [...seen].sort();
}

/** Input name → the files that read it. */
function inputReads(files: string[]): Map<string, string[]> {
  const reads = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(READ)) reads.set(m[1]!, [...(reads.get(m[1]!) ?? []), file.slice(ROOT.length + 1)]);
  }
  return reads;
}

/** The inputs `action` reads: every literal read in its modules, less those only other actions' calls reach. */
function readsOf(action: (typeof ACTION_NAMES)[number]): Map<string, string[]> {
  const reads = inputReads(importGraph(join(ROOT, `src/actions/${action}.ts`)));
  for (const [input, files] of reads) {
    const kept = files.filter((file) => (!REACHED_ONLY_BY[file]?.[input] || REACHED_ONLY_BY[file]![input]!.includes(action)) && (READS_BELONG_TO[file] ?? action) === action);
    if (kept.length) reads.set(input, kept);
    else reads.delete(input);
  }
  return reads;
}

describe('declared inputs', () => {
  it('every input read is by a literal name, so this scan sees them all', () => {
    const dynamic: string[] = [];
    for (const file of importGraph(join(ROOT, 'src/actions/ramp.ts')).concat(...ACTION_NAMES.map((n) => importGraph(join(ROOT, `src/actions/${n}.ts`))))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(ANY_READ)) if (!file.endsWith('src/core/inputs.ts')) dynamic.push(`${file.slice(ROOT.length + 1)}: ${m[0]}`);
    }
    expect([...new Set(dynamic)]).toEqual([]);
  });

  it.each(ACTION_NAMES)('%s declares in its action.yml every input its code reads', (name) => {
    const declared = Object.keys(loadActionMetadata(ROOT, name).inputs);
    const reads = readsOf(name);
    const undeclared = [...reads.entries()].filter(([input]) => !declared.includes(input)).map(([input, files]) => `${input} (read in ${[...new Set(files)].join(', ')})`);
    expect(undeclared).toEqual([]);
  });

  it('the reads only some actions reach are declared by those actions, and still read where the list says', () => {
    for (const [file, inputs] of Object.entries(REACHED_ONLY_BY))
      for (const [input, actions] of Object.entries(inputs)) {
        expect(readFileSync(join(ROOT, file), 'utf8')).toContain(`'${input}'`);
        for (const action of actions) expect(Object.keys(loadActionMetadata(ROOT, action).inputs)).toContain(input);
      }
  });

  it('finds the reads it claims to (the scan itself works)', () => {
    const reads = inputReads(importGraph(join(ROOT, 'src/actions/metrics-gate.ts')));
    expect([...reads.keys()]).toEqual(expect.arrayContaining(['bake', 'error-rate-threshold', 'prometheus-url']));
  });
});
