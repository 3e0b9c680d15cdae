import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  mannWhitneyU,
  midRanks,
  normalUpperTail,
  quantile,
  ratio,
  smallestDecisiveSampleSize,
  summarize,
  uDistribution,
  type Alternative,
  type PValueMethod,
} from '../../src/core/analysis/mann-whitney.js';

interface ReferenceCase {
  name: string;
  source: string;
  x: number[];
  y: number[];
  alternative: Alternative;
  method: PValueMethod;
  u: number;
  p: number;
  pDigits: number;
}

const reference = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'mann-whitney-reference.json'), 'utf8')) as {
  tests: ReferenceCase[];
  criticalValues: Record<'twoSided05' | 'oneSided05' | 'twoSided01', [number, number, number][]>;
  normalUpperTail: { values: [number, number][] };
};

/** Every way to split `values` into a first sample of size k: the permutation distribution, by brute force. */
function* splits(n: number, k: number, start = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === k) {
    yield chosen;
    return;
  }
  for (let i = start; i <= n - (k - chosen.length); i++) yield* splits(n, k, i + 1, [...chosen, i]);
}

/** U of x over y by counting pairs: the definition, independent of ranks. */
function uByPairs(x: readonly number[], y: readonly number[]): number {
  let u = 0;
  for (const a of x) for (const b of y) u += a > b ? 1 : a === b ? 0.5 : 0;
  return u;
}

describe('Mann-Whitney U against published reference values', () => {
  for (const c of reference.tests) {
    it(`${c.name}: U ${c.u}, p ${c.p}`, () => {
      const result = mannWhitneyU(c.x, c.y, c.alternative, c.method);
      expect(result.u).toBe(c.u);
      expect(result.method).toBe(c.method);
      expect(result.p).toBeCloseTo(c.p, c.pDigits);
      expect(result.u + result.uOther).toBe(c.x.length * c.y.length);
    });
  }

  it('chooses the exact p for small untied samples and the normal approximation with ties, as R does', () => {
    const [chorioamnion, , , ozone] = reference.tests as [ReferenceCase, ReferenceCase, ReferenceCase, ReferenceCase];
    expect(mannWhitneyU(chorioamnion.x, chorioamnion.y, 'greater').method).toBe('exact');
    expect(mannWhitneyU(ozone.x, ozone.y).method).toBe('normal');
    expect(mannWhitneyU(ozone.x, ozone.y).p).toBeCloseTo(0.0001208, 7);
  });

  it('reproduces the textbook tables of critical values', () => {
    const critical = (n1: number, n2: number, tail: number) => {
      const dist = uDistribution(n1, n2);
      const total = dist.reduce((a, b) => a + b, 0);
      let cumulative = 0;
      let last = -1;
      for (let u = 0; u < dist.length; u++) {
        cumulative += dist[u]!;
        if (cumulative / total > tail + 1e-12) break;
        last = u;
      }
      return last;
    };
    for (const [n1, n2, u] of reference.criticalValues.twoSided05) expect([n1, n2, critical(n1, n2, 0.025)]).toEqual([n1, n2, u]);
    for (const [n1, n2, u] of reference.criticalValues.oneSided05) expect([n1, n2, critical(n1, n2, 0.05)]).toEqual([n1, n2, u]);
    for (const [n1, n2, u] of reference.criticalValues.twoSided01) expect([n1, n2, critical(n1, n2, 0.005)]).toEqual([n1, n2, u]);
  });

  it('matches the standard normal table', () => {
    for (const [z, p] of reference.normalUpperTail.values) {
      expect(normalUpperTail(z)).toBeCloseTo(p, 12);
      expect(normalUpperTail(-z)).toBeCloseTo(1 - p, 12);
    }
    // Relative accuracy far in the tail, where p-values of clear regressions live.
    expect(normalUpperTail(5) / 2.866515718791939e-7).toBeCloseTo(1, 10);
  });
});

describe('Mann-Whitney U against exact enumeration', () => {
  it('has the distribution of U that enumerating every split gives', () => {
    for (const [n1, n2] of [
      [3, 4],
      [4, 6],
      [5, 5],
      [2, 9],
    ] as const) {
      const counts = new Array<number>(n1 * n2 + 1).fill(0);
      const ranks = Array.from({ length: n1 + n2 }, (_, i) => i);
      for (const chosen of splits(n1 + n2, n1)) {
        const x = chosen.map((i) => ranks[i]!);
        const y = ranks.filter((i) => !chosen.includes(i));
        counts[uByPairs(x, y)]!++;
      }
      expect(uDistribution(n1, n2)).toEqual(counts);
    }
  });

  it('gives exact p-values equal to the share of splits at least as extreme', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: -1000, max: 1000 }), { minLength: 4, maxLength: 11 }), fc.integer({ min: 1, max: 10 }), (values, cut) => {
        const k = Math.max(1, Math.min(values.length - 1, cut));
        const x = values.slice(0, k);
        const y = values.slice(k);
        const observed = uByPairs(x, y);
        let atLeast = 0;
        let atMost = 0;
        let all = 0;
        for (const chosen of splits(values.length, k)) {
          const u = uByPairs(
            chosen.map((i) => values[i]!),
            values.filter((_, i) => !chosen.includes(i)),
          );
          all++;
          if (u >= observed) atLeast++;
          if (u <= observed) atMost++;
        }
        expect(mannWhitneyU(x, y, 'greater').p).toBeCloseTo(atLeast / all, 12);
        expect(mannWhitneyU(x, y, 'less').p).toBeCloseTo(atMost / all, 12);
        expect(mannWhitneyU(x, y, 'two-sided').p).toBeCloseTo(Math.min(1, (2 * Math.min(atLeast, atMost)) / all), 12);
      }),
      { numRuns: 60, seed: 9 },
    );
  });

  it('uses a tie-corrected variance equal to the exact permutation variance of U', () => {
    // The normal approximation's variance must be the true variance of U over all splits.
    const values = [1, 1, 2, 3, 3, 3, 5, 8, 8, 9];
    const k = 4;
    const us: number[] = [];
    for (const chosen of splits(values.length, k))
      us.push(
        uByPairs(
          chosen.map((i) => values[i]!),
          values.filter((_, i) => !chosen.includes(i)),
        ),
      );
    const mean = us.reduce((a, b) => a + b, 0) / us.length;
    const variance = us.reduce((a, b) => a + (b - mean) ** 2, 0) / us.length;
    const x = values.slice(0, k);
    const y = values.slice(k);
    const result = mannWhitneyU(x, y, 'greater', 'normal');
    const u = uByPairs(x, y);
    expect(result.u).toBe(u);
    // z = (U − mean − ½) / sd, so sd = (U − mean − ½) / z.
    expect(mean).toBeCloseTo((k * (values.length - k)) / 2, 12);
    expect((u - mean - 0.5) / result.z!).toBeCloseTo(Math.sqrt(variance), 10);
  });

  it('counts U as pairs won plus half the ties, whatever the order of the input', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 30 }), (x, y) => {
        const r = mannWhitneyU(x, y);
        expect(r.u).toBe(uByPairs(x, y));
        expect(r.p).toBeGreaterThanOrEqual(0);
        expect(r.p).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});

describe('summaries and effect sizes', () => {
  it('gives ties their average rank', () => {
    expect(midRanks([10, 20, 20, 5, 20])).toEqual({ ranks: [2, 4, 4, 1, 4], tieGroups: [3] });
  });

  it('uses the linear-interpolated quantile of R and NumPy (type 7)', () => {
    // R: quantile(1:10, 0.9) is 9.1; median(c(1, 2, 3, 4)) is 2.5.
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBeCloseTo(9.1, 12);
    expect(summarize([4, 1, 3, 2])).toMatchObject({ n: 4, median: 2.5, mean: 2.5, min: 1, max: 4 });
  });

  it('treats a zero stable value as no change or an unbounded one', () => {
    expect(ratio(0, 0)).toBe(1);
    expect(ratio(0.01, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(ratio(1.15, 1)).toBeCloseTo(1.15, 12);
  });

  it('knows how many points per side the test needs to be able to decide at all', () => {
    // One-sided, n per side: the smallest exact p is 1 / C(2n, n): 1/20 at n 3, 1/70 at n 4.
    expect(smallestDecisiveSampleSize(0.05, 'greater')).toBe(4);
    expect(smallestDecisiveSampleSize(0.05, 'two-sided')).toBe(4);
    expect(smallestDecisiveSampleSize(0.01, 'two-sided')).toBe(5);
  });

  it('refuses NaN and empty samples instead of ranking them', () => {
    expect(() => mannWhitneyU([1, Number.NaN], [2])).toThrow(/NaN/);
    expect(() => mannWhitneyU([], [2])).toThrow(/at least one value/);
  });
});
