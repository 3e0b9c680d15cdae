import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { systemClock } from '../../src/core/clock.js';
import { PlanError } from '../../src/core/errors.js';
import { disableKillSwitches, verifyKillSwitchesExist } from '../../src/core/flags/index.js';
import { validatePlanObject } from '../../src/core/plan/load.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { startReceiver, type HttpReceiver, type ReceivedRequest, type ReceiverAnswer } from './flags-http-receiver.js';

// LaunchDarkly cannot run here: a local server answers as its REST API documents.
// - Update feature flag with a semantic patch:
//   https://apidocs.launchdarkly.com/tag/Feature-flags#operation/patchFeatureFlag
//   (PATCH /api/v2/flags/{projectKey}/{featureFlagKey},
//    Content-Type: application/json; domain-model=launchdarkly.semanticpatch,
//    body {environmentKey, comment, instructions: [{kind: "turnFlagOff"}]})
// - Get feature flag: https://apidocs.launchdarkly.com/tag/Feature-flags#operation/getFeatureFlag
//   (GET /api/v2/flags/{projectKey}/{featureFlagKey}?env=… → environments.{env}.on)
// - Authentication: the access token in the Authorization header, no scheme:
//   https://apidocs.launchdarkly.com/#section/Overview/Authentication

const TOKEN = 'api-0123456789abcdef';
const SEMANTIC = 'application/json; domain-model=launchdarkly.semanticpatch';

function launchDarkly(flags: Map<string, Record<string, boolean>>): (req: ReceivedRequest) => ReceiverAnswer {
  return (req) => {
    if (req.headers.authorization !== TOKEN) return { status: 401, body: { code: 'unauthorized', message: 'Invalid access token' } };
    const match = /^\/api\/v2\/flags\/web\/([^/?]+)(\?.*)?$/.exec(req.url);
    const envs = match ? flags.get(decodeURIComponent(match[1]!)) : undefined;
    if (!match || !envs) return { status: 404, body: { code: 'not_found', message: 'Unknown resource' } };
    const flagJson = () => ({ key: match[1], environments: Object.fromEntries(Object.entries(envs).map(([k, on]) => [k, { on }])) });
    if (req.method === 'GET') return { status: 200, body: flagJson() };
    if (req.method !== 'PATCH') return { status: 405, body: { code: 'method_not_allowed', message: 'Method not allowed' } };
    // Without the semantic-patch content type LaunchDarkly reads the body as a JSON Patch array.
    if (req.headers['content-type'] !== SEMANTIC) return { status: 400, body: { code: 'invalid_request', message: 'Invalid JSON patch' } };
    const body = JSON.parse(req.body) as { environmentKey?: string; instructions?: { kind: string }[] };
    if (!body.environmentKey || !(body.environmentKey in envs)) return { status: 400, body: { code: 'invalid_request', message: 'environmentKey is required' } };
    for (const i of body.instructions ?? []) {
      if (i.kind === 'turnFlagOff') envs[body.environmentKey] = false;
      else return { status: 400, body: { code: 'invalid_request', message: `unknown instruction ${i.kind}` } };
    }
    return { status: 200, body: flagJson() };
  };
}

const plan = (url: string, killSwitches: string[]) =>
  validatePlanObject({ service: 'orders', environment: 'production', flags: { provider: 'launchdarkly', url, token: TOKEN, project: 'web', killSwitches } }, 'rollout.yml').plan;

describe('LaunchDarkly kill switches', () => {
  let ld: HttpReceiver;
  const flags = new Map<string, Record<string, boolean>>();
  beforeAll(async () => {
    ld = await startReceiver(launchDarkly(flags));
  });
  afterAll(() => ld.close());

  test('turns a flag off with a turnFlagOff semantic patch for the environment and reads it back off', async () => {
    flags.set('new-checkout-flow', { production: true, staging: true });
    ld.requests.length = 0;
    const runtime = new MemoryRuntime();
    const results = await disableKillSwitches(plan(ld.url, ['new-checkout-flow']), { runtime, reason: 'gate failed: error-rate', clock: systemClock });

    expect(results).toEqual([
      { flag: 'new-checkout-flow', provider: 'launchdarkly', environment: 'production', outcome: 'off', state: 'off', detail: 'turned off and read back off' },
    ]);
    expect(flags.get('new-checkout-flow')).toEqual({ production: false, staging: true });
    const [patch, get] = ld.requests;
    expect(patch?.method).toBe('PATCH');
    expect(patch?.url).toBe('/api/v2/flags/web/new-checkout-flow');
    expect(patch?.headers['content-type']).toBe(SEMANTIC);
    expect(patch?.headers.authorization).toBe(TOKEN);
    expect(JSON.parse(patch!.body)).toEqual({
      environmentKey: 'production',
      comment: 'rollgate rollback of orders: gate failed: error-rate',
      instructions: [{ kind: 'turnFlagOff' }],
    });
    expect(get?.method).toBe('GET');
    expect(get?.url).toBe('/api/v2/flags/web/new-checkout-flow?env=production');
    expect(ld.requests).toHaveLength(2);
  });

  test('reports a flag the API refuses as failed, with the answer, without throwing', async () => {
    const runtime = new MemoryRuntime();
    const results = await disableKillSwitches(plan(ld.url, ['no-such-flag']), { runtime, reason: 'r', clock: systemClock, attempts: 1 });
    expect(results[0]?.outcome).toBe('failed');
    expect(results[0]?.detail).toMatch(/answered 404.*Unknown resource/);
    expect(runtime.logs.some((l) => l.level === 'error' && l.message.includes('no-such-flag'))).toBe(true);
  });

  test('refuses a plan whose kill switch does not exist before the rollout, naming the field', async () => {
    flags.set('new-checkout-flow', { production: true });
    const runtime = new MemoryRuntime();
    const verify = verifyKillSwitchesExist(plan(ld.url, ['new-checkout-flow', 'new-checkuot-flow']), { runtime, clock: systemClock, file: '.github/rollout.yml' });
    await expect(verify).rejects.toThrow(PlanError);
    await expect(verify).rejects.toThrow(
      /\.github\/rollout\.yml: flags\.killSwitches\[1\]: flag "new-checkuot-flow" does not exist in LaunchDarkly project web, environment production/,
    );
  });

  test('never logs the access token', async () => {
    const runtime = new MemoryRuntime();
    runtime.setSecret(TOKEN);
    ld.answer = () => ({ status: 500, body: { message: `token ${TOKEN} rejected` } });
    try {
      const results = await disableKillSwitches(plan(ld.url, ['new-checkout-flow']), { runtime, reason: 'r', clock: systemClock, attempts: 1 });
      expect(results[0]?.outcome).toBe('failed');
      expect(runtime.text()).not.toContain(TOKEN);
    } finally {
      ld.answer = launchDarkly(flags);
    }
  });
});
