import type { GateOptions } from './gate.js';
import type { GateReport } from './report.js';

/** The mann-whitney judge: compares canary and stable samples over the bake window. */
export async function runStatisticalGate(options: GateOptions): Promise<GateReport> {
  const now = options.clock.now();
  return {
    verdict: 'error',
    reason: 'the mann-whitney judge is not implemented yet',
    startedAt: now,
    endedAt: now,
    checks: [],
    measurements: [],
  };
}
