// The job summary's charts, parsed by Mermaid itself (the renderer GitHub uses), in a DOM from jsdom.
import { describe, expect, it } from '@jest/globals';
import { chartNumber, renderGateSummary } from '../../src/core/analysis/summary.js';
import type { GateReport, Measurement } from '../../src/core/analysis/report.js';
import { parseMermaid } from '../../harness/mermaid.js';

async function parse(text: string): Promise<{ diagramType: string }> {
  const [result] = await parseMermaid([text]);
  if (!result?.ok) throw new Error(result?.error ?? 'no answer');
  return { diagramType: result.type ?? '' };
}

function charts(markdown: string): string[] {
  return [...markdown.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

function report(points: Partial<Measurement>[], verdict: GateReport['verdict'] = 'pass'): GateReport {
  const measurements = points.map((p, i) => ({ check: 'error-rate', round: i + 1, time: (i + 1) * 3000, outcome: 'pass' as const, reason: '', ...p }));
  return { verdict, reason: 'r', startedAt: 0, endedAt: points.length * 3000, checks: [{ name: 'error-rate', outcome: verdict, limit: '≤ 0.05', reason: 'r' }], measurements };
}

describe('Mermaid charts in the job summary', () => {
  it('never writes a number in exponent form, which Mermaid cannot parse', async () => {
    for (const v of [1.23e-7, 4.5e-11, 2e21, -3.2e-5, 123456.789, 0.1 + 0.2]) expect(chartNumber(v)).toMatch(/^-?\d+(\.\d+)?$/);
    expect(chartNumber(1.23e-7)).toBe('0.000000123');
    const [chart] = charts(
      renderGateSummary(
        report([
          { canary: 1.23e-7, stable: 4e-8, limit: 1e-6 },
          { canary: 2.5e-7, stable: 4.1e-8, limit: 1e-6 },
        ]),
      ),
    );
    expect(chart).toBeDefined();
    await expect(parse(chart as string)).resolves.toMatchObject({ diagramType: 'xychart' });
    // The parser is real: the old exponent output is refused.
    await expect(parse('xychart-beta\n  x-axis ["3s", "6s"]\n  line [1.23e-7, 2]\n')).rejects.toThrow(/Parse error/);
  });

  it('draws a chart for a gate that failed at its first measurement, with the limit line', async () => {
    const md = renderGateSummary(report([{ canary: 0.2, stable: 0.01, limit: 0.05, outcome: 'fail' }], 'fail'));
    const [chart] = charts(md);
    expect(chart).toContain('line [0.2]');
    expect(chart).toContain('line [0.05]');
    expect(md).toContain('first line: canary, second line: stable, third line: limit');
    await expect(parse(chart as string)).resolves.toBeDefined();
  });

  it('keeps the canary line when points are missing: it ends where the canary stopped and bridges a gap inside', async () => {
    const md = renderGateSummary(
      report([
        { canary: 0.01, stable: 0.01, limit: 0.05 },
        { stable: 0.01, limit: 0.05, canaryOutcome: 'no data' },
        { canary: 0.03, stable: 0.01, limit: 0.05 },
        { stable: 0.01, limit: 0.05, canaryOutcome: 'no data' },
        { stable: 0.01, limit: 0.05, canaryOutcome: 'no data' },
      ]),
    );
    const [chart] = charts(md);
    expect(chart).toContain('x-axis ["3s", "6s ✕", "9s", "12s ✕", "15s ✕"]');
    expect(chart).toContain('line [0.01, 0.02, 0.03]');
    expect(chart).toContain('line [0.01, 0.01, 0.01, 0.01, 0.01]');
    expect(md).toContain('✕: a track had no value in that round');
    await expect(parse(chart as string)).resolves.toBeDefined();
  });

  it('parses with quotes and backslashes in a check name, negative values and many thinned points', async () => {
    const many = Array.from({ length: 90 }, (_, i) => ({ canary: Math.sin(i) * 1e-6, stable: -0.5 + i / 100 }));
    const r = report(many);
    r.checks[0]!.name = 'say "hi" \\ there';
    for (const m of r.measurements) m.check = r.checks[0]!.name;
    const [chart] = charts(renderGateSummary(r));
    await expect(parse(chart as string)).resolves.toBeDefined();
  });
});
