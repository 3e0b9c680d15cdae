/** How a gate ends: exactly one of these. */
export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'error';

export const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'inconclusive', 'error'];

/** Whether a verdict lets the rollout continue, given the plan's onInconclusive policy. */
export function verdictAllowsPromotion(verdict: Verdict, onInconclusive: 'fail' | 'pass'): boolean {
  switch (verdict) {
    case 'pass':
      return true;
    case 'inconclusive':
      return onInconclusive === 'pass';
    case 'fail':
    case 'error':
      return false;
  }
}
