import { z } from 'zod';
import { parseDuration, REPEATED_UNIT, repeatsDurationUnit } from '../duration.js';
import { trafficStepsProblem } from './steps.js';

// Every leaf says what it expects in words a plan author understands; the loader appends
// the value it got and the field path.

const text = (expect = 'expected a non-empty string') => z.string({ error: expect }).min(1, { error: expect });

/** A duration such as `500ms`, `30s`, `5m`, `1h`, held as milliseconds. */
export const durationSchema = z.union([z.string(), z.number()], { error: 'expected a duration such as 500ms, 30s, 5m or 1h' }).transform((value, ctx) => {
  const ms = typeof value === 'number' ? Number.NaN : parseDuration(value);
  if (ms === undefined || Number.isNaN(ms)) {
    const why = typeof value === 'string' && repeatsDurationUnit(value) ? REPEATED_UNIT : 'a bare number has no unit';
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms, 30s, 5m or 1h (${why})`, input: value });
    return z.NEVER;
  }
  return ms;
});

const positiveDuration = durationSchema.refine((ms) => ms > 0, { error: 'expected a duration greater than 0' });

const num = (expect: string) => z.number({ error: expect });
const nonNegative = (expect = 'expected a number ≥ 0') => num(expect).min(0, { error: expect });
const positive = (expect = 'expected a number > 0') => num(expect).gt(0, { error: expect });
const count = (expect = 'expected a whole number ≥ 0') => num(expect).int({ error: expect }).min(0, { error: expect });
const percent = (expect = 'expected a traffic weight from 0 to 100') => num(expect).min(0, { error: expect }).max(100, { error: expect });
const headers = z.record(z.string(), z.string({ error: 'expected a string header value' }), { error: 'expected a map of header names to values' });
const url = (expect = 'expected a URL such as http://host:port/path') => z.string({ error: expect }).refine((v) => /^https?:\/\/[^\s]+$/.test(v), { error: expect });

// ── traffic ────────────────────────────────────────────────────────────────────────────
const kubernetesTarget = { namespace: text().optional(), context: text().optional() };

export const haproxyTrafficSchema = z.strictObject({
  provider: z.literal('haproxy'),
  admin: text('expected the HAProxy runtime API address: host:port or unix:/path/to/admin.sock'),
  backend: text('expected the name of the backend that holds both slots'),
  stable: text().default('stable'),
  canary: text().default('canary'),
  blue: text().optional(),
  green: text().optional(),
  /** HAProxy's absolute weight that means "all traffic" (0–256). */
  maxWeight: num('expected a whole number from 1 to 256').int().min(1).max(256).default(100),
  timeout: positiveDuration.default(5000),
  /** How long a change waits for the server about to get traffic to pass its health check (default 30s). */
  healthTimeout: positiveDuration.optional(),
  /** How long the server given traffic must stay UP after a change before it counts (default 2s). */
  healthSettle: durationSchema.optional(),
});

export const commandTrafficSchema = z.strictObject({
  provider: z.literal('command'),
  setWeight: text('expected a command template such as ./scripts/set_weight.sh {{weight}}'),
  getWeight: text('expected a command that prints the canary share on stdout').optional(),
  promote: text().optional(),
  timeout: positiveDuration.default(120_000),
});

export const istioTrafficSchema = z.strictObject({
  provider: z.literal('istio'),
  ...kubernetesTarget,
  virtualService: text('expected the name of the VirtualService'),
  route: text().optional(),
  host: text('expected the destination host (the Service name)'),
  stableSubset: text().default('stable'),
  canarySubset: text().default('canary'),
  headerMatch: z.record(z.string(), z.string()).optional(),
  mirrorPercent: percent().optional(),
});

export const gatewayApiTrafficSchema = z.strictObject({
  provider: z.literal('gateway-api'),
  ...kubernetesTarget,
  httpRoute: text('expected the name of the HTTPRoute'),
  rule: count().default(0),
  stableBackend: text('expected the stable Service name'),
  canaryBackend: text('expected the canary Service name'),
});

export const nginxIngressTrafficSchema = z.strictObject({
  provider: z.literal('nginx-ingress'),
  ...kubernetesTarget,
  ingress: text('expected the name of the canary Ingress'),
  canaryByHeader: text().optional(),
});

export const smiTrafficSchema = z.strictObject({
  provider: z.literal('smi'),
  ...kubernetesTarget,
  trafficSplit: text('expected the name of the TrafficSplit'),
  stableBackend: text(),
  canaryBackend: text(),
});

export const argoRolloutsTrafficSchema = z.strictObject({
  provider: z.literal('argo-rollouts'),
  ...kubernetesTarget,
  rollout: text('expected the name of the Rollout'),
  /** How long to wait for the Argo Rollouts controller to show a change in the Rollout's status. */
  timeout: positiveDuration.default(120_000),
});

export const serviceSelectorTrafficSchema = z.strictObject({
  provider: z.literal('service-selector'),
  ...kubernetesTarget,
  service: text('expected the name of the Service whose selector switches'),
  selectorKey: text().default('color'),
  blue: text().default('blue'),
  green: text().default('green'),
});

export const trafficSchema = z.discriminatedUnion(
  'provider',
  [
    haproxyTrafficSchema,
    commandTrafficSchema,
    istioTrafficSchema,
    gatewayApiTrafficSchema,
    nginxIngressTrafficSchema,
    smiTrafficSchema,
    argoRolloutsTrafficSchema,
    serviceSelectorTrafficSchema,
  ],
  { error: 'expected provider: haproxy | istio | gateway-api | nginx-ingress | smi | argo-rollouts | service-selector | command' },
);

// ── deploy, readiness, smoke ───────────────────────────────────────────────────────────
export const deploySchema = z.strictObject({
  command: text('expected a command template such as ./scripts/deploy.sh {{slot}} {{version}}').optional(),
  kubernetes: z
    .strictObject({
      ...kubernetesTarget,
      canaryDeployment: text().optional(),
      stableDeployment: text().optional(),
      blueDeployment: text().optional(),
      greenDeployment: text().optional(),
      deployment: text().optional(),
      container: text('expected the container whose image is set'),
    })
    .optional(),
  timeout: positiveDuration.default(600_000),
});

export const readinessSchema = z.strictObject({
  url: url(),
  timeout: positiveDuration.default(120_000),
  interval: positiveDuration.default(2_000),
  expectStatus: num('expected an HTTP status code').int().min(100).max(599).default(200),
  headers: headers.optional(),
});

export const smokeCheckSchema = z.strictObject({
  name: text(),
  url: url(),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'], { error: 'expected an HTTP method' }).default('GET'),
  expectStatus: num('expected an HTTP status code').int().min(100).max(599).default(200),
  expectBody: z.string().optional(),
  headers: headers.optional(),
  body: z.string().optional(),
  timeout: positiveDuration.default(10_000),
  retries: count().default(0),
});

// ── metrics ────────────────────────────────────────────────────────────────────────────
export const prometheusMetricsSchema = z.strictObject({
  provider: z.literal('prometheus'),
  address: url('expected the Prometheus base URL, e.g. http://prometheus:9090'),
  headers: headers.optional(),
  bearerToken: text().optional(),
  basicAuth: z.strictObject({ username: text(), password: text() }).optional(),
  timeout: positiveDuration.default(10_000),
  retries: count().default(2),
});

export const datadogMetricsSchema = z.strictObject({
  provider: z.literal('datadog'),
  site: text().default('datadoghq.com'),
  address: url().optional(),
  apiKey: text('expected the Datadog API key (use ${DD_API_KEY})'),
  appKey: text('expected the Datadog application key (use ${DD_APP_KEY})'),
  timeout: positiveDuration.default(10_000),
  retries: count().default(2),
});

export const newRelicMetricsSchema = z.strictObject({
  provider: z.literal('newrelic'),
  accountId: z.union([text(), num('expected the New Relic account id')]).transform(String),
  apiKey: text('expected a New Relic user API key (use ${NEW_RELIC_API_KEY})'),
  region: z.enum(['us', 'eu'], { error: 'expected us or eu' }).default('us'),
  address: url().optional(),
  timeout: positiveDuration.default(10_000),
  retries: count().default(2),
});

export const cloudwatchMetricsSchema = z.strictObject({
  provider: z.literal('cloudwatch'),
  region: text('expected an AWS region such as eu-west-1'),
  endpoint: url().optional(),
  timeout: positiveDuration.default(10_000),
  retries: count().default(2),
});

export const webMetricsSchema = z.strictObject({
  provider: z.literal('web'),
  url: url(),
  method: z.enum(['GET', 'POST'], { error: 'expected GET or POST' }).default('GET'),
  headers: headers.optional(),
  body: z.string().optional(),
  jsonPath: text('expected a JSONPath to the value, e.g. $.data.value'),
  timeout: positiveDuration.default(10_000),
  retries: count().default(2),
});

export const metricsSchema = z.discriminatedUnion('provider', [prometheusMetricsSchema, datadogMetricsSchema, newRelicMetricsSchema, cloudwatchMetricsSchema, webMetricsSchema], {
  error: 'expected provider: prometheus | datadog | newrelic | cloudwatch | web',
});

// ── analysis ───────────────────────────────────────────────────────────────────────────
const LIMIT_KEYS = ['max', 'min', 'maxIncrease', 'maxDecrease', 'maxRatio', 'minRatio'] as const;

export const checkSchema = z
  .strictObject({
    name: text('expected a check name'),
    query: text('expected a query with {{track}} and {{window}} placeholders'),
    /** Absolute ceiling on the canary's value. */
    max: num('expected a number').optional(),
    /** Absolute floor on the canary's value (business KPIs: lower is worse). */
    min: num('expected a number').optional(),
    /** canary − stable may not exceed this. */
    maxIncrease: nonNegative().optional(),
    /** stable − canary may not exceed this. */
    maxDecrease: nonNegative().optional(),
    /** canary / stable may not exceed this. */
    maxRatio: positive().optional(),
    /** canary / stable may not fall below this. */
    minRatio: positive().optional(),
    /** A breach must persist this long before it counts. */
    for: durationSchema.optional(),
    // Statistical judges (mann-whitney, paired):
    direction: z.enum(['increase', 'decrease', 'either'], { error: 'expected increase | decrease | either' }).optional(),
    allowedIncrease: nonNegative().optional(),
    allowedDecrease: nonNegative().optional(),
    critical: z.boolean({ error: 'expected true or false' }).default(false),
    mustHaveData: z.boolean({ error: 'expected true or false' }).default(true),
    weight: positive().default(1),
    nanStrategy: z.enum(['remove', 'replace'], { error: 'expected remove | replace' }).default('remove'),
    /** Measured, shown and recorded, never decisive: for trying a new check before it can stop a rollout. */
    dryRun: z.boolean({ error: 'expected true or false' }).optional(),
  })
  .superRefine((check, ctx) => {
    const hasLimit = LIMIT_KEYS.some((k) => check[k] !== undefined) || check.direction !== undefined || check.allowedIncrease !== undefined || check.allowedDecrease !== undefined;
    if (!hasLimit)
      ctx.addIssue({ code: 'custom', path: [], message: `expected at least one limit (${LIMIT_KEYS.join(', ')}); a check without one can never fail`, input: undefined });
    if (check.max !== undefined && check.min !== undefined && check.min > check.max)
      ctx.addIssue({ code: 'custom', path: ['min'], message: `expected min ≤ max (${check.max})`, input: check.min });
  });

export const analysisSchema = z
  .strictObject({
    interval: positiveDuration.default(30_000),
    bake: positiveDuration.default(300_000),
    minRequests: nonNegative('expected a whole number ≥ 0').default(0),
    failureLimit: count().default(0),
    /**
     * Inconclusive measurements (no data, NaN, too few requests) a check may have and still pass.
     * Unset: they may not outnumber its passing measurements, so a check that passed once and
     * saw no data the rest of the bake is inconclusive, never a pass.
     */
    inconclusiveLimit: count().optional(),
    consecutiveErrorLimit: count().default(4),
    onInconclusive: z.enum(['fail', 'pass'], { error: 'expected fail | pass' }).default('fail'),
    requests: text('expected a query counting requests for {{track}} over {{window}}').optional(),
    /** The range each measurement looks back over; defaults to the interval. */
    window: positiveDuration.optional(),
    checks: z.array(checkSchema, { error: 'expected a list of checks' }).min(1, { error: 'expected at least one check' }),
    judge: z.enum(['threshold', 'mann-whitney', 'paired'], { error: 'expected threshold | mann-whitney | paired' }).default('threshold'),
    /** The paired judge may stop early, but never before this much of the bake (slow-burning faults). */
    minBake: positiveDuration.optional(),
    /**
     * What the paired judge's interval must show before a check fails: `significant` (a change is
     * shown and its estimate is beyond the tolerance, as Kayenta judges) or `beyond-tolerance` (the
     * whole interval is beyond the tolerance: for tracks that wander apart on their own).
     */
    failOn: z.enum(['significant', 'beyond-tolerance'], { error: 'expected significant | beyond-tolerance' }).optional(),
    score: z
      .strictObject({
        pass: percent('expected a score from 0 to 100').default(95),
        marginal: percent('expected a score from 0 to 100').default(75),
      })
      .optional(),
    /** Significance level for the statistical judge. */
    alpha: num('expected a probability between 0 and 1').gt(0).lt(1).default(0.05),
  })
  .superRefine((a, ctx) => {
    if (a.interval > a.bake) ctx.addIssue({ code: 'custom', path: ['interval'], message: 'expected interval ≤ bake', input: a.interval });
    if (a.minBake !== undefined && a.minBake > a.bake)
      ctx.addIssue({ code: 'custom', path: ['minBake'], message: 'expected minBake ≤ bake (bake is the longest the gate may run)', input: a.minBake });
    // Without {{track}} canary and stable run the same query, and every comparison passes.
    a.checks.forEach((c, i) => {
      const compares = a.judge !== 'threshold' || ['maxIncrease', 'maxDecrease', 'maxRatio', 'minRatio'].some((k) => c[k as keyof typeof c] !== undefined);
      if (compares && !/\{\{\s*track\s*\}\}/.test(c.query))
        ctx.addIssue({
          code: 'custom',
          path: ['checks', i, 'query'],
          message: `expected {{track}} in the query (e.g. track="{{track}}"): ${a.judge === 'threshold' ? 'its relative limits compare' : `the ${a.judge} judge compares`} canary with stable, and without it both get the same series`,
          input: c.query,
        });
    });
    if (a.requests !== undefined && !/\{\{\s*track\s*\}\}/.test(a.requests))
      ctx.addIssue({
        code: 'custom',
        path: ['requests'],
        message: 'expected {{track}} in the requests query (e.g. track="{{track}}"): without it the canary is credited with stable\'s requests',
        input: a.requests,
      });
    if (a.failOn !== undefined && a.judge !== 'paired')
      ctx.addIssue({ code: 'custom', path: ['failOn'], message: `expected judge: paired with failOn (the ${a.judge} judge does not use it)`, input: a.failOn });
    if (a.judge === 'paired')
      a.checks.forEach((c, i) => {
        const tolerance = ['allowedIncrease', 'allowedDecrease', 'maxIncrease', 'maxDecrease', 'maxRatio', 'minRatio'].some((k) => c[k as keyof typeof c] !== undefined);
        if (!tolerance)
          ctx.addIssue({
            code: 'custom',
            path: ['checks', i],
            message:
              'expected a tolerance for judge: paired (allowedIncrease, allowedDecrease, maxIncrease, maxDecrease, maxRatio or minRatio): it passes a canary once the difference is shown to be within it',
            input: undefined,
          });
      });
    const names = new Set<string>();
    a.checks.forEach((c, i) => {
      if (names.has(c.name)) ctx.addIssue({ code: 'custom', path: ['checks', i, 'name'], message: 'expected a unique check name', input: c.name });
      names.add(c.name);
    });
    if (a.checks.length > 0 && a.checks.every((c) => c.dryRun))
      ctx.addIssue({
        code: 'custom',
        path: ['checks'],
        message: 'expected at least one check without dryRun: true (dry-run checks alone can never fail a gate)',
        input: undefined,
      });
    if (a.minRequests > 0 && !a.requests)
      ctx.addIssue({ code: 'custom', path: ['requests'], message: 'is required when minRequests > 0 (the query that counts requests)', input: undefined });
    // `direction` alone is a limit only for the statistical judge; the threshold judge would pass it always.
    if (a.judge === 'threshold')
      a.checks.forEach((c, i) => {
        if (!LIMIT_KEYS.some((k) => c[k] !== undefined) && (c.direction !== undefined || c.allowedIncrease !== undefined || c.allowedDecrease !== undefined))
          ctx.addIssue({
            code: 'custom',
            path: ['checks', i],
            message: `expected a threshold limit (${LIMIT_KEYS.join(', ')}) with judge: threshold, or judge: mann-whitney or paired for direction and allowedIncrease/allowedDecrease alone; as it is this check could never fail`,
            input: undefined,
          });
      });
  });

// ── flags and notifications ────────────────────────────────────────────────────────────
const flagsCommon = {
  killSwitches: z.array(text('expected a flag name'), { error: 'expected a list of flag names' }).default([]),
  environment: text().optional(),
  timeout: positiveDuration.default(10_000),
};

export const flagsSchema = z.discriminatedUnion(
  'provider',
  [
    z.strictObject({
      provider: z.literal('unleash'),
      ...flagsCommon,
      url: url(),
      token: text('expected an admin API token (use ${UNLEASH_TOKEN})'),
      project: text().default('default'),
    }),
    z.strictObject({
      provider: z.literal('launchdarkly'),
      ...flagsCommon,
      url: url().default('https://app.launchdarkly.com'),
      token: text('expected an API access token (use ${LD_API_TOKEN})'),
      project: text('expected the LaunchDarkly project key'),
    }),
    z.strictObject({
      provider: z.literal('flagd-file'),
      ...flagsCommon,
      file: text('expected the path of the flagd JSON flag file'),
      push: z.boolean().default(true),
      branch: text().optional(),
    }),
    z.strictObject({ provider: z.literal('webhook'), ...flagsCommon, url: url(), headers: headers.optional() }),
  ],
  { error: 'expected provider: unleash | launchdarkly | flagd-file | webhook' },
);

export const notifySchema = z.strictObject({
  webhook: url('expected a Slack-compatible incoming webhook URL').optional(),
  slack: url('expected a Slack incoming webhook URL').optional(),
  on: z
    .array(z.enum(['promotion', 'rollback', 'gate-failure', 'policy-override'], { error: 'expected promotion | rollback | gate-failure | policy-override' }))
    .default(['promotion', 'rollback', 'gate-failure', 'policy-override']),
});

// ── pre-deploy checklist overrides ────────────────────────────────────────────────────
const checklistItemSchema = z.strictObject({
  title: text('expected the text shown for the item').optional(),
  required: z.union([z.boolean(), z.enum(['always', 'when-migrations', 'never'])], { error: 'expected true, false, always, when-migrations or never' }).optional(),
  allowNotApplicable: z.boolean({ error: 'expected true or false' }).optional(),
  evidence: z.enum(['none', 'link'], { error: 'expected none or link (the built-in items keep their own evidence)' }).optional(),
});

/** Overrides of the pre-deploy checklist, by item id; unknown ids add items. */
export const checklistSchema = z.strictObject({
  items: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'expected an item id of lower-case letters, digits and -' }), checklistItemSchema, {
    error: 'expected a mapping of item ids to settings',
  }),
});

// ── release policy ─────────────────────────────────────────────────────────────────────
// Checked before traffic moves: error budget, deploy windows and freezes, risk classes.

/** A period or window that may be days long (`28d`, `1w`) as well as `5m` or `1h`; milliseconds. */
export const longDurationSchema = z.string({ error: 'expected a duration such as 5m, 1h, 28d or 4w' }).transform((value, ctx) => {
  const days = /^(\d+)(d|w)$/.exec(value.trim());
  const ms = days ? Number(days[1]) * (days[2] === 'w' ? 7 : 1) * 86_400_000 : parseDuration(value);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration greater than 0 such as 5m, 1h, 28d or 4w', input: value });
    return z.NEVER;
  }
  return ms;
});

const riskClassSchema = z.enum(['low', 'medium', 'high'], { error: 'expected low | medium | high' });
const weekdaySchema = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], { error: 'expected a day: mon, tue, wed, thu, fri, sat or sun' });
const clockTime = (expect = 'expected a local time HH:MM, e.g. 09:00 (24:00 for the end of the day)') =>
  z.string({ error: expect }).regex(/^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/, { error: expect });
const timeZoneSchema = z.string({ error: 'expected an IANA time zone such as Europe/Berlin or UTC' }).refine(
  (zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  },
  { error: 'expected an IANA time zone such as Europe/Berlin or UTC' },
);
const freezeInstant = (expect = 'expected a date (2026-12-24), a local time (2026-12-24T18:00) or an instant with an offset (2026-12-24T17:00Z)') =>
  z.string({ error: expect }).regex(/^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})?)?$/, { error: expect });

export const burnRateAlertSchema = z.strictObject({
  long: longDurationSchema,
  short: longDurationSchema,
  /** Burn rate both windows must exceed for the alert condition to hold (14.4 = 2% of a 30-day budget in 1 h). */
  factor: positive(),
});

export const errorBudgetSchema = z
  .strictObject({
    /** The SLO in percent, e.g. 99.9. */
    objective: num('expected the SLO in percent, e.g. 99.9')
      .gt(0, { error: 'expected the SLO in percent, between 0 and 100' })
      .lt(100, { error: 'expected the SLO in percent, between 0 and 100' }),
    period: longDurationSchema.default(28 * 86_400_000),
    /** Queries over `{{window}}`: good and total events (or errors and total), e.g. sums of rate(). */
    good: text().optional(),
    errors: text().optional(),
    total: text().optional(),
    /** Or a query of the error ratio over `{{window}}`, e.g. Sloth's `slo:sli_error:ratio_rate{{window}}{sloth_id="orders-availability"}`. */
    errorRatio: text().optional(),
    /** Or the remaining budget as a ratio, e.g. `slo:period_error_budget_remaining:ratio{sloth_id="…"}`. */
    remaining: text().optional(),
    /** Refuse while less than this percentage of the period's budget remains. */
    minRemaining: percent('expected a percentage of the error budget, 0–100').default(0),
    burnRateAlerts: z.array(burnRateAlertSchema, { error: 'expected a list of { long, short, factor }' }).default([
      { long: 3_600_000, short: 300_000, factor: 14.4 },
      { long: 21_600_000, short: 1_800_000, factor: 6 },
    ]),
  })
  .superRefine((b, ctx) => {
    const sources = [b.errorRatio !== undefined, b.total !== undefined].filter(Boolean).length;
    if (sources === 0) ctx.addIssue({ code: 'custom', path: [], message: 'expected errorRatio, or total with good or errors (the SLI queries over {{window}})', input: undefined });
    if (sources === 2) ctx.addIssue({ code: 'custom', path: ['errorRatio'], message: 'expected errorRatio or total with good/errors, not both', input: b.errorRatio });
    if (b.total !== undefined && (b.good === undefined) === (b.errors === undefined))
      ctx.addIssue({ code: 'custom', path: ['total'], message: 'expected exactly one of good or errors beside total', input: undefined });
    if (b.total === undefined && (b.good !== undefined || b.errors !== undefined))
      ctx.addIssue({ code: 'custom', path: ['total'], message: 'is required with good or errors', input: undefined });
    b.burnRateAlerts.forEach((a, i) => {
      if (a.short >= a.long) ctx.addIssue({ code: 'custom', path: ['burnRateAlerts', i, 'short'], message: 'expected a short window shorter than the long one', input: a.short });
    });
  });

export const deployWindowSchema = z
  .strictObject({
    days: z.array(weekdaySchema, { error: 'expected a list of days such as [mon, tue, wed, thu]' }).min(1, { error: 'expected at least one day' }),
    from: clockTime(),
    to: clockTime(),
  })
  .refine((w) => w.from < w.to, { error: 'expected from before to (a window ends on the day it starts; use two windows to cross midnight)', path: ['to'] });

export const freezeSchema = z.strictObject({
  from: freezeInstant(),
  /** Inclusive: a date alone means to the end of that day. */
  to: freezeInstant(),
  reason: text('expected why nothing may ship, e.g. "year-end freeze"'),
});

export const riskRuleSchema = z
  .strictObject({
    class: riskClassSchema,
    /** Globs of changed paths that put a release in this class (`**`, `*`, `?`). */
    paths: z.array(text('expected a glob such as src/payments/**'), { error: 'expected a list of globs' }).optional(),
    /** `contract`: a contract-phase (irreversible) migration ships; `any`: any migration changed. */
    migrations: z.enum(['contract', 'any'], { error: 'expected contract | any' }).optional(),
  })
  .refine((r) => r.paths !== undefined || r.migrations !== undefined, { error: 'expected paths or migrations (what puts a release in this class)' });

export const riskRequirementSchema = z.strictObject({
  strategies: z
    .array(z.enum(['canary', 'blue-green', 'rolling'], { error: 'expected canary | blue-green | rolling' }))
    .min(1)
    .optional(),
  /** `statistical`: mann-whitney or paired; `threshold`: any analysis. */
  judge: z.enum(['threshold', 'statistical', 'mann-whitney', 'paired'], { error: 'expected threshold | statistical | mann-whitney | paired' }).optional(),
  /** The bake at the first step must last at least this long. */
  minBake: positiveDuration.optional(),
  /** The first traffic step may not exceed this share. */
  maxFirstStep: percent().optional(),
  /** No automatic promotion past this share: the plan's steps must stop there for an approval. */
  approvalAbove: percent().optional(),
});

export const policySchema = z.strictObject({
  errorBudget: errorBudgetSchema.optional(),
  /** Deploy only inside one of these windows (rollback is never held back). */
  windows: z
    .strictObject({
      timeZone: timeZoneSchema.default('UTC'),
      allow: z.array(deployWindowSchema, { error: 'expected a list of { days, from, to }' }).min(1, { error: 'expected at least one window' }),
    })
    .optional(),
  /** Dated periods when nothing ships; read in windows.timeZone (or `timeZone`) unless they carry an offset. */
  freezes: z.array(freezeSchema, { error: 'expected a list of { from, to, reason }' }).optional(),
  timeZone: timeZoneSchema.optional(),
  risk: z
    .strictObject({
      rules: z.array(riskRuleSchema, { error: 'expected a list of { class, paths | migrations }' }).default([]),
      /** The class of a release no rule matches. */
      default: riskClassSchema.default('low'),
      require: z.strictObject({ low: riskRequirementSchema.optional(), medium: riskRequirementSchema.optional(), high: riskRequirementSchema.optional() }).default({}),
    })
    .optional(),
});

// ── the plan ───────────────────────────────────────────────────────────────────────────
export const planSchema = z
  .strictObject({
    service: text('expected the service name').regex(/^[A-Za-z0-9._-]+$/, { error: 'expected a service name of letters, digits, ., _ and -' }),
    environment: text('expected the environment name, e.g. production'),
    strategy: z.enum(['canary', 'blue-green', 'rolling'], { error: 'expected canary | blue-green | rolling' }).default('canary'),
    traffic: trafficSchema.optional(),
    deploy: deploySchema.optional(),
    readiness: readinessSchema.optional(),
    smoke: z.array(smokeCheckSchema, { error: 'expected a list of smoke checks' }).optional(),
    metrics: metricsSchema.optional(),
    analysis: analysisSchema.optional(),
    steps: z
      .array(num('expected a traffic weight'), {
        error: 'expected a list of traffic weights such as [5, 25, 50, 100]',
      })
      .min(1, { error: 'expected at least one step' })
      .optional(),
    flags: flagsSchema.optional(),
    notify: notifySchema.optional(),
    runbook: url('expected a link to the runbook').optional(),
    environmentUrl: url().optional(),
    /** Set once a contract-phase migration shipped: the previous version can no longer run. */
    irreversible: z.union([z.boolean(), text()], { error: 'expected true, false or a reason' }).optional(),
    checklist: checklistSchema.optional(),
    policy: policySchema.optional(),
  })
  .superRefine((plan, ctx) => {
    const stepProblem = plan.steps ? trafficStepsProblem(plan.steps) : undefined;
    if (stepProblem) ctx.addIssue({ code: 'custom', path: ['steps', stepProblem.index], message: stepProblem.message, input: plan.steps?.[stepProblem.index] });
    if (plan.strategy === 'blue-green' && plan.traffic?.provider === 'haproxy' && (!plan.traffic.blue || !plan.traffic.green))
      ctx.addIssue({ code: 'custom', path: ['traffic'], message: 'blue-green on haproxy needs `blue:` and `green:` server names', input: undefined });
    for (const clash of sameNamedRoles(plan)) ctx.addIssue({ code: 'custom', path: clash.path, message: clash.message, input: clash.value });
    // Without a read, rollgate would have to believe its own notes about which colour is live, and
    // a rollback from a fresh runner would switch blind.
    if (plan.strategy === 'blue-green' && plan.traffic?.provider === 'command' && !plan.traffic.getWeight)
      ctx.addIssue({
        code: 'custom',
        path: ['traffic', 'getWeight'],
        message: 'is required with strategy: blue-green (the command that prints the green share, so the live colour is read, never assumed)',
        input: undefined,
      });
    // A rolling update replaces one Deployment's pods in place: there is no second slot to weigh traffic between.
    if (plan.strategy === 'rolling') {
      if (!plan.deploy?.kubernetes?.deployment)
        ctx.addIssue({
          code: 'custom',
          path: ['deploy', 'kubernetes', 'deployment'],
          message: 'is required with strategy: rolling (the Deployment that is updated in place)',
          input: undefined,
        });
      if (plan.traffic)
        ctx.addIssue({
          code: 'custom',
          path: ['traffic'],
          message: 'is not used with strategy: rolling (Kubernetes moves traffic as new pods become ready); remove it, or use strategy: canary',
          input: undefined,
        });
      if (plan.steps)
        ctx.addIssue({
          code: 'custom',
          path: ['steps'],
          message: 'is not used with strategy: rolling (there are no traffic weights to step through); remove it, or use strategy: canary',
          input: undefined,
        });
    }
    if (plan.deploy && !plan.deploy.command && !plan.deploy.kubernetes)
      ctx.addIssue({ code: 'custom', path: ['deploy'], message: 'expected `command:` or `kubernetes:`', input: undefined });
  });

/**
 * Two roles that name the same server, subset, backend or Deployment: every weight change would
 * set one thing twice (a plan with `stable: blue, canary: blue` sends 100% nowhere). A
 * copy-paste typo that must never validate.
 */
function sameNamedRoles(plan: {
  strategy: 'canary' | 'blue-green' | 'rolling';
  traffic?: TrafficConfigInput;
  deploy?: { kubernetes?: { canaryDeployment?: string; stableDeployment?: string; blueDeployment?: string; greenDeployment?: string } };
}): { path: (string | number)[]; message: string; value: string }[] {
  const pairs: [string, string | undefined, string, string | undefined, string[]][] = [];
  const t = plan.traffic;
  const blueGreen = plan.strategy === 'blue-green';
  if (t) {
    switch (t.provider) {
      case 'haproxy':
        if (blueGreen) pairs.push(['blue', t.blue, 'green', t.green, ['traffic']]);
        else pairs.push(['stable', t.stable, 'canary', t.canary, ['traffic']]);
        break;
      case 'istio':
        pairs.push(['stableSubset', t.stableSubset, 'canarySubset', t.canarySubset, ['traffic']]);
        break;
      case 'gateway-api':
      case 'smi':
        pairs.push(['stableBackend', t.stableBackend, 'canaryBackend', t.canaryBackend, ['traffic']]);
        break;
      case 'service-selector':
        pairs.push(['blue', t.blue, 'green', t.green, ['traffic']]);
        break;
      case 'command':
      case 'nginx-ingress':
      case 'argo-rollouts':
        break;
    }
  }
  const k = plan.deploy?.kubernetes;
  if (k) {
    if (blueGreen) pairs.push(['blueDeployment', k.blueDeployment, 'greenDeployment', k.greenDeployment, ['deploy', 'kubernetes']]);
    else pairs.push(['stableDeployment', k.stableDeployment, 'canaryDeployment', k.canaryDeployment, ['deploy', 'kubernetes']]);
  }
  return pairs
    .filter(([, a, , b]) => a !== undefined && a === b)
    .map(([first, value, second, , path]) => ({
      path: [...path, second],
      message: `names the same ${path[0] === 'traffic' ? 'server or backend' : 'Deployment'} as ${first} (${JSON.stringify(value)}): the two roles must be different places, or every change would send traffic nowhere`,
      value: value as string,
    }));
}

type TrafficConfigInput = z.infer<typeof trafficSchema>;

export type Plan = z.infer<typeof planSchema>;
export type TrafficConfig = z.infer<typeof trafficSchema>;
export type MetricsConfig = z.infer<typeof metricsSchema>;
export type AnalysisConfig = z.infer<typeof analysisSchema>;
export type CheckConfig = z.infer<typeof checkSchema>;
export type FlagsConfig = z.infer<typeof flagsSchema>;
export type NotifyConfig = z.infer<typeof notifySchema>;
export type DeployConfig = z.infer<typeof deploySchema>;
export type ReadinessConfig = z.infer<typeof readinessSchema>;
export type SmokeCheckConfig = z.infer<typeof smokeCheckSchema>;
export type ChecklistConfig = z.infer<typeof checklistSchema>;
export type PolicyConfig = z.infer<typeof policySchema>;
export type ErrorBudgetConfig = z.infer<typeof errorBudgetSchema>;
export type RiskRequirement = z.infer<typeof riskRequirementSchema>;

/** Top-level sections an action may require. */
export type PlanSection = 'traffic' | 'deploy' | 'readiness' | 'smoke' | 'metrics' | 'analysis' | 'steps' | 'flags' | 'notify' | 'policy';
