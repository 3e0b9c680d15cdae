/**
 * The one rule for traffic steps, whether they come from a plan's `steps`, or from the `steps`,
 * `to` or `weight` inputs: each a share greater than 0 and at most 100, strictly rising, and
 * (for a run that starts from a canary that already has traffic) never below the share it has.
 * A 0 is not a step: sending the canary nothing is rollback's job.
 */
export function trafficStepsProblem(steps: readonly number[], current?: number): { index: number; message: string } | undefined {
  for (const [index, weight] of steps.entries()) {
    if (!Number.isFinite(weight) || weight <= 0 || weight > 100)
      return { index, message: 'expected a traffic weight greater than 0 and at most 100 (0 is not a step: rollback takes the canary to 0)' };
    const previous = steps[index - 1];
    if (previous !== undefined && weight <= previous) return { index, message: `expected steps in increasing order (after ${previous})` };
  }
  const first = steps[0];
  if (current !== undefined && first !== undefined && first < current)
    return { index: 0, message: `expected steps that rise from the canary's current ${Math.round(current * 100) / 100}% (lowering it is rollback's job)` };
  return undefined;
}
