import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { tempDir } from '../../harness/process.js';
import { explainGitHubError } from '../../src/core/github/client.js';
import { deploymentRecordsFor, runUrlFrom } from '../../src/core/github/factory.js';
import { LedgerDeploymentRecords } from '../../src/core/github/ledger.js';
import { currentDeployment, effectiveState, fitDescription, parsePayload } from '../../src/core/github/records.js';
import { isUserError } from '../../src/core/errors.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

let dir: { path: string; remove: () => void };
beforeEach(() => {
  dir = tempDir('rollgate-ledger-');
});
afterEach(() => dir.remove());

describe('the local ledger', () => {
  it('keeps deployments and statuses across instances, newest first', async () => {
    const file = join(dir.path, '.rollgate/ledger.json');
    const first = new LedgerDeploymentRecords(file, { runUrl: 'http://ci/run/1' });
    const a = await first.create({ environment: 'production', ref: 'abc', payload: { version: 'v1', strategy: 'canary' } });
    await first.setStatus(a.id, { state: 'in_progress', description: 'canary 5%' });
    await first.setStatus(a.id, { state: 'success', description: 'promoted', environmentUrl: 'http://orders' });
    const b = await first.create({ environment: 'production', ref: 'def', payload: { version: 'v2', strategy: 'canary', previousVersion: 'v1' } });
    await first.create({ environment: 'staging', ref: 'def', payload: { version: 'v2', strategy: 'canary' } });

    const again = new LedgerDeploymentRecords(file);
    expect((await again.list('production')).map((d) => d.payload.version)).toEqual(['v2', 'v1']);
    expect((await again.statuses(a.id)).map((s) => s.state)).toEqual(['success', 'in_progress']);
    expect(await currentDeployment(again, 'production')).toMatchObject({ id: b.id, state: 'none', payload: { previousVersion: 'v1' } });
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    expect(raw.deployments[0].statuses[1]).toMatchObject({ state: 'success', environmentUrl: 'http://orders', logUrl: 'http://ci/run/1' });
  });

  it('names the file when it is not a ledger', async () => {
    const file = join(dir.path, 'ledger.json');
    writeFileSync(file, '{"deployments": 3}');
    const err = await new LedgerDeploymentRecords(file).list('production').catch((e: unknown) => e);
    expect(isUserError(err)).toBe(true);
    expect((err as Error).message).toContain(file);
    writeFileSync(file, 'not json');
    await expect(new LedgerDeploymentRecords(file).list('production')).rejects.toThrow(/not a rollgate ledger/);
  });

  it('refuses a status for a deployment it does not hold', async () => {
    await expect(new LedgerDeploymentRecords(join(dir.path, 'l.json')).setStatus(9, { state: 'success' })).rejects.toThrow(/no deployment #9/);
  });
});

describe('record helpers', () => {
  it('cuts descriptions to 140 characters on one line', () => {
    expect(fitDescription('canary 25%,\n gate passed')).toBe('canary 25%, gate passed');
    const long = fitDescription('x'.repeat(500));
    expect([...long]).toHaveLength(140);
    expect(long.endsWith('…')).toBe(true);
  });

  it('reads how a deployment ended past later inactive statuses', () => {
    const at = '2026-01-01T00:00:00Z';
    expect(
      effectiveState([
        { state: 'inactive', createdAt: at },
        { state: 'success', createdAt: at },
      ]),
    ).toBe('success');
    expect(effectiveState([{ state: 'inactive', createdAt: at }])).toBe('inactive');
    expect(effectiveState([])).toBe('none');
  });

  it('reads payloads written as objects or JSON strings, dropping fields of the wrong type', () => {
    expect(parsePayload('{"version":"v1","strategy":"blue-green","rollbackOf":4}')).toEqual({ version: 'v1', strategy: 'blue-green', rollbackOf: 4 });
    expect(parsePayload({ version: 3, rollbackOf: '4', irreversible: 'contract: drop column' })).toEqual({
      version: '',
      strategy: 'canary',
      irreversible: 'contract: drop column',
    });
    expect(parsePayload('not json')).toEqual({ version: '', strategy: 'canary' });
  });
});

describe('choosing where records go', () => {
  const runner = { GITHUB_REPOSITORY: 'acme/orders', GITHUB_SERVER_URL: 'https://github.com', GITHUB_RUN_ID: '42' };

  it('uses GitHub when a token is present and masks the token', () => {
    const runtime = new MemoryRuntime({ 'github-token': 'ghs_abcdef123' }, runner);
    expect(deploymentRecordsFor(runtime)?.kind).toBe('github');
    expect(runtime.redact('token ghs_abcdef123')).toBe('token ***');
  });

  it('uses the ledger without a token, at the ledger input or ROLLGATE_LEDGER', () => {
    const file = join(dir.path, 'x.json');
    expect(deploymentRecordsFor(new MemoryRuntime({}, {}))).toMatchObject({ kind: 'ledger', location: '.rollgate/ledger.json' });
    expect(deploymentRecordsFor(new MemoryRuntime({ ledger: file }, {}))).toMatchObject({ kind: 'ledger', location: file });
    expect(deploymentRecordsFor(new MemoryRuntime({}, { ROLLGATE_LEDGER: file }))).toMatchObject({ kind: 'ledger', location: file });
  });

  it('keeps no records with records: none, and rejects an unknown mode by name', () => {
    expect(deploymentRecordsFor(new MemoryRuntime({ records: 'none', 'github-token': 'ghs_abcdef' }, runner))).toBeUndefined();
    expect(() => deploymentRecordsFor(new MemoryRuntime({ records: 'gitlab' }, {}))).toThrow(/input records: expected auto \| github \| ledger \| none/);
  });

  it('asks for the token and the repository GitHub records need', () => {
    expect(() => deploymentRecordsFor(new MemoryRuntime({ records: 'github' }, runner))).toThrow(/input github-token: is required .*deployments: write/);
    expect(() => deploymentRecordsFor(new MemoryRuntime({ records: 'github', 'github-token': 'ghs_abcdef' }, {}))).toThrow(/input repository: expected owner\/name/);
    expect(() => deploymentRecordsFor(new MemoryRuntime({ records: 'github', 'github-token': 'ghs_abcdef', repository: 'orders' }, {}))).toThrow(
      /input repository: expected owner\/name .*got "orders"/,
    );
  });

  it('falls back to the ledger when a token comes without a repository (a terminal with GITHUB_TOKEN set)', () => {
    expect(deploymentRecordsFor(new MemoryRuntime({}, { GITHUB_TOKEN: 'ghs_abcdef' }))?.kind).toBe('ledger');
  });

  it('links statuses to the run', () => {
    expect(runUrlFrom(runner)).toBe('https://github.com/acme/orders/actions/runs/42');
    expect(runUrlFrom({})).toBeUndefined();
  });
});

describe('GitHub errors in words', () => {
  it('names the token input and the permission for 401 and 403', () => {
    const e401 = explainGitHubError({ status: 401, response: { data: { message: 'Bad credentials' } } }, 'POST /x', 'github-token');
    expect(isUserError(e401)).toBe(true);
    expect(e401.message).toMatch(/input github-token.*Bad credentials.*permissions: deployments: write/);
    const e403 = explainGitHubError({ status: 403, response: { headers: {}, data: { message: 'Resource not accessible by integration' } } }, 'POST /x');
    expect(e403.message).toMatch(/lacks permission.*deployments: write/);
  });

  it('tells an exhausted rate limit from a missing permission', () => {
    const e = explainGitHubError({ status: 403, response: { headers: { 'x-ratelimit-remaining': '0' }, data: { message: 'API rate limit exceeded' } } }, 'GET /x');
    expect(e.message).toMatch(/rate limit exhausted/);
  });
});
