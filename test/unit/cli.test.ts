import { loadActionMetadata } from '../../src/core/action-metadata.js';
import { actionHelp, closest, formatOutput, parseActionFlags, parseOutputFile, runCli, UsageError } from '../../src/core/cli.js';

const ROOT = process.cwd();

function capture() {
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

describe('the CLI', () => {
  const gate = loadActionMetadata(ROOT, 'metrics-gate');

  it('refuses a mistyped flag instead of running with the default, and suggests the flag meant', () => {
    // `--bak 4s` once baked for the plan's 30 s without a word.
    expect(() => parseActionFlags(gate, ['--bak', '4s'])).toThrow(UsageError);
    expect(() => parseActionFlags(gate, ['--bak', '4s'])).toThrow('unknown flag --bak; did you mean --bake?');
    expect(() => parseActionFlags(gate, ['--eror-rate-threshold=1'])).toThrow('did you mean --error-rate-threshold?');
    expect(() => parseActionFlags(gate, ['--zzzzzzzz', '1'])).toThrow(/^unknown flag --zzzzzzzz \(see --help/);
  });

  it('names the flag that lacks a value', () => {
    expect(() => parseActionFlags(gate, ['--bake'])).toThrow('--bake needs a value');
  });

  it('exits 2 for a usage mistake, naming the command, and runs nothing', async () => {
    const io = capture();
    let ran = false;
    const status = await runCli(['metrics-gate', '--bak', '4s'], ROOT, io, async () => void (ran = true));
    expect(status).toBe(2);
    expect(ran).toBe(false);
    expect(io.stderr).toBe('rollgate metrics-gate: unknown flag --bak; did you mean --bake? (see --help for the flags)\n');
  });

  it("generates each action's help from its action.yml: every input as a flag with its default, every output", async () => {
    for (const name of ['build-and-tag', 'deploy-canary', 'metrics-gate', 'ramp', 'rollback', 'pre-deploy-checklist']) {
      const metadata = loadActionMetadata(ROOT, name);
      const io = capture();
      expect(await runCli([name, '--help'], ROOT, io, async () => undefined)).toBe(0);
      expect(io.stdout).toBe(`${actionHelp(metadata)}\n`);
      for (const [input, spec] of Object.entries(metadata.inputs)) {
        expect(io.stdout).toContain(`--${input} <value>`);
        if (spec.default !== undefined && !spec.default.includes('${{')) expect(io.stdout).toContain(`(default: ${spec.default})`);
      }
      for (const output of Object.keys(metadata.outputs)) expect(io.stdout).toMatch(new RegExp(`\\n  ${output}\\n`));
    }
    const short = capture();
    await runCli(['ramp', '-h'], ROOT, short, async () => undefined);
    expect(short.stdout).toContain('--to <value>');
  });

  it('prints the version from package.json and a usage that lists every command', async () => {
    const version = capture();
    expect(await runCli(['--version'], ROOT, version, async () => undefined)).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
    const help = capture();
    expect(await runCli(['-h'], ROOT, help, async () => undefined)).toBe(0);
    for (const name of ['build-and-tag', 'deploy-canary', 'metrics-gate', 'ramp', 'rollback', 'pre-deploy-checklist']) expect(help.stdout).toMatch(new RegExp(`\\n  ${name} +\\S`));
  });

  it('suggests the command meant', async () => {
    const io = capture();
    expect(await runCli(['metric-gate'], ROOT, io, async () => undefined)).toBe(2);
    expect(io.stderr).toContain('unknown command "metric-gate"; did you mean metrics-gate?');
  });

  it('reads back outputs whole, however long or multi-line', () => {
    const report = `${'x'.repeat(5000)}\nsecond line`;
    const file = `verdict<<ghadelimiter_1\npass\nghadelimiter_1\nreport<<ghadelimiter_2\n${report}\nghadelimiter_2\n`;
    expect(parseOutputFile(file)).toEqual([
      ['verdict', 'pass'],
      ['report', report],
    ]);
    expect(formatOutput('verdict', 'pass')).toBe('output verdict=pass');
    expect(formatOutput('report', report)).toMatch(new RegExp(`^output report<<(ROLLGATE_\\w+)\\n${report}\\n\\1$`));
  });

  it('suggests only names that are close', () => {
    expect(closest('bak', ['bake', 'interval'])).toBe('bake');
    expect(closest('nothing-alike', ['bake', 'interval'])).toBeUndefined();
  });
});

describe('errors at a terminal', () => {
  it('name --flags where a workflow would name inputs', async () => {
    const { asFlags } = await import('../../src/core/runtime.js');
    expect(asFlags('input bake (analysis.bake): expected a duration such as 500ms, 30s, 5m or 1h, got "soon"')).toBe(
      '--bake (analysis.bake): expected a duration such as 500ms, 30s, 5m or 1h, got "soon"',
    );
    expect(asFlags('input weight: is required when the plan has no `steps`')).toBe('--weight: is required when the plan has no `steps`');
    expect(asFlags('input backtest-from: expected a time', 'backtest-from=from')).toBe('--from: expected a time');
  });
});
