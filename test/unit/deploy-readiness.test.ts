import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock, systemClock } from '../../src/core/clock.js';
import { waitForReadiness } from '../../src/core/deploy/readiness.js';
import { runSmokeChecks, smokeTable } from '../../src/core/deploy/smoke.js';
import { readinessSchema, smokeCheckSchema } from '../../src/core/plan/schema.js';

// A real HTTP server that turns ready after a number of probes.
describe('readiness and smoke checks against a real HTTP server', () => {
  let server: Server;
  let base: string;
  let probes = 0;
  let readyAfter = 3;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ready') {
        probes++;
        res.writeHead(probes >= readyAfter ? 200 : 503).end();
      } else if (req.url === '/canary/version') res.writeHead(200).end('{"version":"v2"}');
      else if (req.url === '/echo' && req.method === 'POST') req.pipe(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('polls until the URL answers the expected status', async () => {
    probes = 0;
    readyAfter = 3;
    const result = await waitForReadiness(readinessSchema.parse({ url: `${base}/ready`, interval: '20ms', timeout: '5s' }), { clock: systemClock, vars: {}, log: () => undefined });
    expect(result.attempts).toBe(3);
  });

  it('times out naming the URL, the probes and the last answer', async () => {
    probes = 0;
    readyAfter = Number.POSITIVE_INFINITY;
    const clock = new FakeClock(0);
    await expect(waitForReadiness(readinessSchema.parse({ url: `${base}/ready`, interval: '2s', timeout: '10s' }), { clock, vars: {}, log: () => undefined })).rejects.toThrow(
      `readiness: ${base}/ready did not answer 200 within 10s (6 probes; last: HTTP 503)`,
    );
  });

  it('fills {{slot}} in the URL, so blue-green readiness targets the idle colour', async () => {
    await expect(
      waitForReadiness(readinessSchema.parse({ url: `${base}/{{slot}}/version`, timeout: '1s', interval: '100ms' }), {
        clock: systemClock,
        vars: { slot: 'canary' },
        log: () => undefined,
      }),
    ).resolves.toMatchObject({
      url: `${base}/canary/version`,
    });
  });

  it('names a refused connection as the last answer', async () => {
    const clock = new FakeClock(0);
    await expect(
      waitForReadiness(readinessSchema.parse({ url: 'http://127.0.0.1:1/ready', interval: '1s', timeout: '2s' }), { clock, vars: {}, log: () => undefined }),
    ).rejects.toThrow(/last: GET http:\/\/127\.0\.0\.1:1\/ready: connection refused/);
  });

  it('runs every smoke check and reports each, body expectations included', async () => {
    const checks = [
      { name: 'version', url: `${base}/{{slot}}/version`, expectBody: '"v2"' },
      { name: 'wrong-version', url: `${base}/canary/version`, expectBody: '"v3"' },
      { name: 'echo', url: `${base}/echo`, method: 'POST', body: 'hello {{version}}', expectBody: 'hello v2' },
      { name: 'missing', url: `${base}/nope` },
    ].map((c) => smokeCheckSchema.parse(c));
    const results = await runSmokeChecks(checks, { clock: systemClock, vars: { slot: 'canary', version: 'v2' } });
    expect(results.map((r) => [r.name, r.ok, r.detail])).toEqual([
      ['version', true, 'HTTP 200'],
      ['wrong-version', false, 'HTTP 200, but the body lacks "\\"v3\\""'],
      ['echo', true, 'HTTP 200'],
      ['missing', false, 'HTTP 404 (expected 200)'],
    ]);
    expect(smokeTable(results)).toContain('| missing | ' + base + '/nope | ❌ HTTP 404 (expected 200) |');
  });
});
