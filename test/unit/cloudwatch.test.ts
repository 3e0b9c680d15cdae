import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import { ProviderError } from '../../src/core/errors.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { metricsSchema } from '../../src/core/plan/schema.js';
import { CloudWatchProvider, cloudWatchPeriod, metricDataQuery, type CloudWatchConfig } from '../../src/core/metrics/cloudwatch.js';
import { recorded, startVendorServer, type RecordedAnswer, type SeenRequest, type VendorServer } from '../fixtures/vendors/server.js';

// The server checks AWS Signature Version 4 itself, from the algorithm's published definition
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html): a request
// signed with the wrong secret is refused the way CloudWatch refuses it.
const ACCESS_KEY = 'AKIAROLLGATETEST0001';
const SECRET_KEY = 'rollgate/test/secret/key/0000000000000000';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

function signatureProblem(req: SeenRequest): string | undefined {
  const auth = String(req.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'no SigV4 Authorization header';
  const [, accessKey, date, region, service, signedHeaders, signature] = m as unknown as string[];
  if (accessKey !== ACCESS_KEY) return 'unknown access key';
  if (service !== 'monitoring') return `signed for service ${service}`;
  const names = signedHeaders!.split(';');
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const query = [...req.url.searchParams]
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort()
    .join('&');
  const canonicalRequest = [req.method, req.url.pathname, query, canonicalHeaders, signedHeaders, sha256(req.body)].join('\n');
  const amzDate = String(req.headers['x-amz-date']);
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${SECRET_KEY}`, date!), region!), service!), 'aws4_request');
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return expected === signature ? undefined : 'signature mismatch';
}

const saved: Record<string, string | undefined> = {};
const servers: VendorServer[] = [];
beforeEach(() => {
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) saved[k] = process.env[k];
  process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = SECRET_KEY;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
});
afterEach(async () => {
  for (const [k, v] of Object.entries(saved))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function provider(answer: (req: SeenRequest, i: number) => RecordedAnswer, overrides: Partial<CloudWatchConfig> = {}) {
  const server = await startVendorServer((req, i) => (signatureProblem(req) ? recorded('cloudwatch', 'error-signature') : answer(req, i)));
  servers.push(server);
  const config: CloudWatchConfig = { provider: 'cloudwatch', region: 'eu-west-1', endpoint: server.url, timeout: 5000, retries: 0, ...overrides };
  return { server, cloudwatch: new CloudWatchProvider(config) };
}

interface GetMetricDataBody {
  StartTime: number;
  EndTime: number;
  ScanBy: string;
  MetricDataQueries: Record<string, unknown>[];
}

describe('cloudwatch metrics provider', () => {
  it('rounds a step to a period CloudWatch accepts', () => {
    expect(cloudWatchPeriod(1000)).toBe(1);
    expect(cloudWatchPeriod(7000)).toBe(10);
    expect(cloudWatchPeriod(45_000)).toBe(60);
    expect(cloudWatchPeriod(60_000)).toBe(60);
    expect(cloudWatchPeriod(150_000)).toBe(180);
  });

  it('reads a query as a Metrics Insights expression, or as JSON naming the metric', () => {
    expect(metricDataQuery('SELECT AVG(TargetResponseTime) FROM SCHEMA("AWS/ApplicationELB", TargetGroup) WHERE TargetGroup = \'canary\'', 60)).toMatchObject({
      Expression: expect.stringContaining('SELECT AVG'),
      Period: 60,
    });
    expect(metricDataQuery('{"Namespace":"AWS/ApplicationELB","MetricName":"TargetResponseTime","Dimensions":[{"Name":"TargetGroup","Value":"canary"}],"Stat":"p99"}', 60)).toEqual(
      {
        Id: 'rollgate',
        ReturnData: true,
        MetricStat: {
          Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'TargetResponseTime', Dimensions: [{ Name: 'TargetGroup', Value: 'canary' }] },
          Stat: 'p99',
          Period: 60,
          Unit: undefined,
        },
      },
    );
    expect(() => metricDataQuery('{"Namespace": ', 60)).toThrow(/looks like JSON but does not parse/);
  });

  it('signs GetMetricData with SigV4 and reads the series', async () => {
    const { server, cloudwatch } = await provider(() => recorded('cloudwatch', 'get-metric-data-ok'));
    const range = await cloudwatch.queryRange('{"Namespace":"AWS/ApplicationELB","MetricName":"TargetResponseTime","Stat":"Average"}', {
      start: 1_700_000_000_000,
      end: 1_700_000_240_000,
      stepMs: 60_000,
    });
    expect(range).toEqual({
      kind: 'series',
      points: [
        { time: 1_700_000_000_000, value: 0.201 },
        { time: 1_700_000_060_000, value: 0.219 },
        { time: 1_700_000_120_000, value: 0.188 },
        { time: 1_700_000_180_000, value: 0.207 },
      ],
    });
    const seen = server.requests[0]!;
    expect(seen.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.GetMetricData');
    expect(String(seen.headers.authorization)).toMatch(/Credential=AKIAROLLGATETEST0001\/\d{8}\/eu-west-1\/monitoring\/aws4_request/);
    const body = JSON.parse(seen.body) as GetMetricDataBody;
    expect(body.StartTime).toBe(1_700_000_000);
    expect(body.EndTime).toBe(1_700_000_240);
    expect(body.ScanBy).toBe('TimestampAscending');
    expect(body.MetricDataQueries[0]).toMatchObject({ Id: 'rollgate', MetricStat: { Period: 60, Stat: 'Average' } });
  });

  it('is what the plan gets for provider: cloudwatch', async () => {
    const server = await startVendorServer((req) => (signatureProblem(req) ? recorded('cloudwatch', 'error-signature') : recorded('cloudwatch', 'get-metric-data-ok')));
    servers.push(server);
    const provider = createMetricsProvider(metricsSchema.parse({ provider: 'cloudwatch', region: 'eu-west-1', endpoint: server.url, retries: 0 }));
    expect(await provider.query('SELECT AVG(TargetResponseTime) FROM "AWS/ApplicationELB"', { time: 1_700_000_240_000 })).toEqual({ kind: 'value', value: 0.207 });
  });

  it('answers an instant value with the newest datapoint', async () => {
    const { cloudwatch } = await provider(() => recorded('cloudwatch', 'get-metric-data-ok'));
    expect(await cloudwatch.query('SELECT AVG(TargetResponseTime) FROM "AWS/ApplicationELB"', { time: 1_700_000_240_000 })).toEqual({ kind: 'value', value: 0.207 });
  });

  it('says no data for a metric without datapoints', async () => {
    const { cloudwatch } = await provider(() => recorded('cloudwatch', 'get-metric-data-empty'));
    expect(await cloudwatch.query('SELECT SUM(HTTPCode_Target_5XX_Count) FROM "AWS/ApplicationELB"')).toEqual({ kind: 'no-data' });
  });

  it('follows NextToken across pages', async () => {
    const page = (i: number): RecordedAnswer => {
      const ok = recorded('cloudwatch', 'get-metric-data-ok');
      const body = ok.body as { MetricDataResults: { Timestamps: number[]; Values: number[] }[]; NextToken?: string };
      const r = body.MetricDataResults[0]!;
      r.Timestamps = r.Timestamps.slice(i * 2, i * 2 + 2);
      r.Values = r.Values.slice(i * 2, i * 2 + 2);
      if (i === 0) body.NextToken = 'page-2';
      return ok;
    };
    const { server, cloudwatch } = await provider((_req, i) => page(i));
    const range = await cloudwatch.queryRange('SELECT AVG(TargetResponseTime) FROM "AWS/ApplicationELB"', { start: 1_700_000_000_000, end: 1_700_000_240_000, stepMs: 60_000 });
    expect(range.kind === 'series' && range.points.map((p) => p.value)).toEqual([0.201, 0.219, 0.188, 0.207]);
    expect((JSON.parse(server.requests[1]!.body) as { NextToken: string }).NextToken).toBe('page-2');
  });

  it('reports credentials CloudWatch does not accept', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
    const { cloudwatch } = await provider(() => recorded('cloudwatch', 'get-metric-data-ok'));
    await expect(cloudwatch.query('SELECT AVG(x) FROM y')).rejects.toThrow(
      /credentials rejected \(InvalidSignatureException\): The request signature we calculated does not match/,
    );
  });

  it('says how to provide credentials when there are none', async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    const saveConfig = process.env.AWS_CONFIG_FILE;
    const saveCreds = process.env.AWS_SHARED_CREDENTIALS_FILE;
    const saveImds = process.env.AWS_EC2_METADATA_DISABLED;
    process.env.AWS_CONFIG_FILE = '/nonexistent/rollgate-aws-config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/rollgate-aws-credentials';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    try {
      const { server, cloudwatch } = await provider(() => recorded('cloudwatch', 'get-metric-data-ok'));
      await expect(cloudwatch.query('SELECT AVG(x) FROM y')).rejects.toThrow(/no AWS credentials found.*configure-aws-credentials/);
      expect(server.requests).toHaveLength(0);
    } finally {
      for (const [k, v] of [
        ['AWS_CONFIG_FILE', saveConfig],
        ['AWS_SHARED_CREDENTIALS_FILE', saveCreds],
        ['AWS_EC2_METADATA_DISABLED', saveImds],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  it('reports throttling as a retryable rate limit once the SDK gives up', async () => {
    const { server, cloudwatch } = await provider(() => recorded('cloudwatch', 'error-throttling'), { retries: 1 });
    const err = (await cloudwatch.query('SELECT AVG(x) FROM y').catch((e: unknown) => e)) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.message).toMatch(/rate limited \(Throttling\): Rate exceeded/);
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('passes on why a query was rejected', async () => {
    const { cloudwatch } = await provider(() => recorded('cloudwatch', 'error-invalid-parameter'));
    await expect(cloudwatch.query('SELEC AVG(x) FROM y')).rejects.toThrow(/query rejected \(InvalidParameterValue\w*\): The Metrics Insights query is not valid/);
  });
});
