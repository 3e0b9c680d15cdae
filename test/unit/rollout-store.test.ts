import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isUserError } from '../../src/core/errors.js';
import { FileRolloutStore } from '../../src/core/rollout/file-store.js';
import { MemoryRolloutStore, RolloutConflictError } from '../../src/core/rollout/store.js';
import { describeRolloutStoreContract } from '../contract/rollout-store-contract.js';

const key = { service: 'orders', environment: 'production' };
const writer = join(dirname(new URL(import.meta.url).pathname), 'rollout-store-writer.ts');

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'rollgate-store-'));
}

describeRolloutStoreContract('MemoryRolloutStore', async () => {
  const store = new MemoryRolloutStore();
  return { open: () => store };
});

describeRolloutStoreContract('FileRolloutStore', async () => {
  const dir = tempDir();
  return { open: () => new FileRolloutStore(dir, key), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

/** Runs the writer script; resolves with its stdout, rejects with its stderr when it fails. */
function runWriter(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<string> } {
  // Node itself with tsx's loader, not the tsx wrapper: the pid must be the writer's own, for the kill test.
  const child = spawn(process.execPath, ['--import', 'tsx', writer, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const done = new Promise<string>((resolve, reject) => {
    child.on('exit', (code, signal) => (code === 0 ? resolve(out) : reject(new Error(`writer ${args.join(' ')} exited ${code ?? signal}: ${err}`))));
  });
  return { child, done };
}

describe('FileRolloutStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no update when 8 processes each add 25 to one record at the same time', async () => {
    const writers = Array.from({ length: 8 }, (_, i) => runWriter(['increment', dir, '25', `w${i}`]));
    const reports = (await Promise.all(writers.map((w) => w.done))).map((out) => JSON.parse(out.trim()) as { conflicts: number });
    const record = await new FileRolloutStore(dir, key).read();
    expect(record!.document.count).toBe(200);
    const entries = record!.document.entries as string[];
    expect(entries).toHaveLength(200);
    expect(new Set(entries).size).toBe(200);
    for (let w = 0; w < 8; w++) {
      // Each writer's own increments land in the order it made them.
      const mine = entries.filter((e) => e.startsWith(`w${w}:`));
      expect(mine).toEqual(Array.from({ length: 25 }, (_, i) => `w${w}:${i}`));
    }
    // The race was real: writers did collide and were refused, not serialised by luck.
    expect(reports.reduce((sum, r) => sum + r.conflicts, 0)).toBeGreaterThan(0);
    // Nothing left behind: no lock, no half-written file.
    expect(readdirSync(join(dir, 'orders'))).toEqual(['production.json']);
  }, 240_000);

  it('recovers the write lock of a writer killed while holding it', async () => {
    const store = new FileRolloutStore(dir, key, { staleLockMs: 600_000, lockTimeoutMs: 30_000 });
    const created = await store.write({ phase: 'canary' }, undefined, 'deploy');
    const holder = runWriter(['hold', dir]);
    await new Promise<void>((resolve, reject) => {
      holder.child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('held') && resolve());
      holder.done.catch(reject);
    });
    expect(existsSync(store.writeLock.file)).toBe(true);
    holder.child.kill('SIGKILL');
    await holder.done.catch(() => undefined);

    // The holder's pid is gone on this host: the lock is broken at once, not after staleLockMs.
    const started = Date.now();
    const next = await store.write({ phase: 'rolled-back' }, created.revision, 'rollback');
    expect(Date.now() - started).toBeLessThan(60_000);
    await expect(store.read()).resolves.toEqual(next);
    expect(existsSync(store.writeLock.file)).toBe(false);
  }, 120_000);

  it('waits for a live lock held on another host, then names it in the error', async () => {
    const store = new FileRolloutStore(dir, key, { staleLockMs: 600_000, lockTimeoutMs: 300 });
    mkdirSync(join(dir, 'orders'), { recursive: true });
    writeFileSync(store.writeLock.file, JSON.stringify({ pid: 4242, host: 'runner-7', token: 'abc', takenAt: '2026-12-01T23:00:00.000Z' }));
    const err = await store.write({ phase: 'canary' }, undefined, 'deploy').catch((e: unknown) => e);
    expect(isUserError(err)).toBe(true);
    expect((err as Error).message).toContain(store.writeLock.file);
    expect((err as Error).message).toContain('pid 4242 on runner-7');
    await expect(store.read()).resolves.toBeUndefined();
  });

  it('does not judge a pid from another container or machine with the same host name', async () => {
    const store = new FileRolloutStore(dir, key, { staleLockMs: 600_000, lockTimeoutMs: 300 });
    mkdirSync(join(dir, 'orders'), { recursive: true });
    // A pid that does not exist here, but may well live in the other pid namespace.
    writeFileSync(store.writeLock.file, JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), machine: 'another-boot/pid:[1]', token: 'abc', takenAt: '2026-12-01T23:00:00.000Z' }));
    const err = await store.write({ phase: 'canary' }, undefined, 'deploy').catch((e: unknown) => e);
    expect((err as Error).message).toContain('has been held for more than');
    expect(existsSync(store.writeLock.file)).toBe(true);
  });

  it('breaks a lock from another host once it is older than any write could take', async () => {
    const store = new FileRolloutStore(dir, key, { staleLockMs: 5_000, lockTimeoutMs: 60_000 });
    mkdirSync(join(dir, 'orders'), { recursive: true });
    writeFileSync(store.writeLock.file, JSON.stringify({ pid: 4242, host: 'runner-7', token: 'abc', takenAt: '2026-12-01T23:00:00.000Z' }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(store.writeLock.file, old, old);
    const written = await store.write({ phase: 'canary' }, undefined, 'deploy');
    await expect(store.read()).resolves.toEqual(written);
  });

  it('reports a damaged record plainly and never takes it as "no rollout"', async () => {
    const store = new FileRolloutStore(dir, key);
    await store.write({ phase: 'canary', generation: 3 }, undefined, 'deploy');
    const good = readFileSync(store.location, 'utf8');
    for (const damaged of [good.slice(0, good.length / 2), '', '[]', JSON.stringify({ phase: 'canary' }), good.replace('"sequence": 1', '"sequence": "one"')]) {
      writeFileSync(store.location, damaged);
      for (const attempt of [() => store.read(), () => store.write({ phase: 'deploying' }, undefined, 'start over')]) {
        const err = await attempt().catch((e: unknown) => e);
        expect(isUserError(err)).toBe(true);
        expect(err).not.toBeInstanceOf(RolloutConflictError);
        expect((err as Error).message).toContain(store.location);
        expect((err as Error).message).toContain('damaged');
      }
      // The damaged file is left for a person to look at; the failed write released its lock.
      expect(readFileSync(store.location, 'utf8')).toBe(damaged);
      expect(existsSync(store.writeLock.file)).toBe(false);
    }
  });

  it('keeps each service and environment in its own file, even when names differ only in punctuation', async () => {
    const keys = [
      { service: 'a.b', environment: 'c' },
      { service: 'a', environment: 'b.c' },
      { service: 'a_b', environment: 'c' },
      { service: '../etc', environment: 'passwd' },
    ];
    const stores = keys.map((k) => new FileRolloutStore(dir, k));
    expect(new Set(stores.map((s) => s.location)).size).toBe(keys.length);
    for (const s of stores) expect(s.location.startsWith(`${dir}/`)).toBe(true);
    for (const [i, s] of stores.entries()) await s.write({ i }, undefined, 'create');
    for (const [i, s] of stores.entries()) await expect(s.read()).resolves.toMatchObject({ document: { i } });
  });

  it('names the writer and its message when a write is refused', async () => {
    const a = new FileRolloutStore(dir, key);
    const created = await a.write({ generation: 1 }, undefined, 'deploy v2');
    await a.write({ generation: 2 }, created.revision, 'rollback: error rate');
    const err = await a.write({ generation: 2 }, created.revision, 'promote').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RolloutConflictError);
    expect((err as Error).message).toContain('rollback: error rate');
    expect((err as Error).message).toContain(`${process.pid}@`);
  });
});
