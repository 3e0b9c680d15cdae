/** One sample of a series for promtool's OpenMetrics backfill: `series` is `name{labels}`, time in unix seconds. */
export interface Sample {
  series: string;
  value: number;
  time: number;
}

/**
 * A counter sampled every `stepS` seconds from `fromS` to `toS`: each sample adds `increment(t)`
 * for the step that ends at t, so the rate over any stretch is known exactly in advance.
 */
export function counterSamples(series: string, fromS: number, toS: number, stepS: number, increment: (t: number) => number): Sample[] {
  const samples: Sample[] = [];
  let total = 0;
  for (let t = fromS; t <= toS; t += stepS) {
    if (t > fromS) total += increment(t);
    samples.push({ series, value: total, time: t });
  }
  return samples;
}

/** A gauge holding `value(t)` every `stepS` seconds. */
export function gaugeSamples(series: string, fromS: number, toS: number, stepS: number, value: (t: number) => number): Sample[] {
  const samples: Sample[] = [];
  for (let t = fromS; t <= toS; t += stepS) samples.push({ series, value: value(t), time: t });
  return samples;
}

/** OpenMetrics text as promtool wants it: each family declared once, each series' samples together and in time order. */
export function openMetricsText(samples: Sample[], families: Record<string, 'counter' | 'gauge' | 'summary'> = {}): string {
  const byFamily = new Map<string, Map<string, Sample[]>>();
  for (const s of samples) {
    const name = s.series.replace(/\{.*$/, '');
    const family = Object.keys(families).find((f) => name === f || name === `${f}_total` || name === `${f}_sum` || name === `${f}_count`) ?? name;
    const series = byFamily.get(family) ?? new Map<string, Sample[]>();
    byFamily.set(family, series);
    const list = series.get(s.series) ?? [];
    series.set(s.series, list);
    list.push(s);
  }
  const lines: string[] = [];
  for (const [family, series] of byFamily) {
    if (families[family]) lines.push(`# TYPE ${family} ${families[family]}`);
    for (const list of series.values()) for (const s of list.sort((a, b) => a.time - b.time)) lines.push(`${s.series} ${Number(s.value.toFixed(6))} ${s.time}`);
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}
