import { isUserError } from '../../src/core/errors.js';
import { RolloutConflictError, type RolloutStore } from '../../src/core/rollout/store.js';

/** A fresh, empty record for one contract case; `open` gives another handle to the same record (another job's view). */
export interface StoreUnderTest {
  open(): RolloutStore;
  cleanup?(): Promise<void>;
}

/**
 * What every RolloutStore promises, whatever holds the record: compare-and-swap, never a silent
 * overwrite, the document kept whole and in order. Each store's test file runs this suite.
 */
export function describeRolloutStoreContract(name: string, setup: () => Promise<StoreUnderTest>): void {
  describe(`${name}: RolloutStore contract`, () => {
    let subject: StoreUnderTest;
    beforeEach(async () => {
      subject = await setup();
    });
    afterEach(async () => {
      await subject.cleanup?.();
    });

    async function refused(promise: Promise<unknown>, store: RolloutStore): Promise<RolloutConflictError> {
      const err = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RolloutConflictError);
      const conflict = err as RolloutConflictError;
      expect(isUserError(conflict)).toBe(true);
      expect(conflict.location).toBe(store.location);
      expect(conflict.message).toContain(store.location);
      return conflict;
    }

    it('has no record before the first write', async () => {
      await expect(subject.open().read()).resolves.toBeUndefined();
    });

    it('creates the record when the writer expects none, and reads back exactly what was written', async () => {
      const store = subject.open();
      const written = await store.write({ phase: 'deploying', generation: 1 }, undefined, 'start rollout');
      expect(written.document).toEqual({ phase: 'deploying', generation: 1 });
      const read = await subject.open().read();
      expect(read).toEqual(written);
    });

    it('refuses to create a record that another writer created first', async () => {
      const first = await subject.open().write({ owner: 'run 1' }, undefined, 'run 1 starts');
      const second = subject.open();
      await refused(second.write({ owner: 'run 2' }, undefined, 'run 2 starts'), second);
      await expect(second.read()).resolves.toEqual(first);
    });

    it('refuses a write based on a revision that is no longer current, and keeps the newer record', async () => {
      const a = subject.open();
      const b = subject.open();
      const created = await a.write({ phase: 'canary', weight: 10 }, undefined, 'deploy');
      const seenByB = await b.read();
      const rolledBack = await a.write({ phase: 'rolled-back', weight: 0 }, created.revision, 'rollback');
      await refused(b.write({ phase: 'promoted', weight: 100 }, seenByB!.revision, 'promote'), b);
      await expect(b.read()).resolves.toEqual(rolledBack);
    });

    it('refuses a write that expects a record when there is none', async () => {
      const store = subject.open();
      await refused(store.write({ phase: 'canary' }, 'some-revision', 'advance'), store);
      await expect(store.read()).resolves.toBeUndefined();
    });

    it('refuses a revision it never issued', async () => {
      const store = subject.open();
      const created = await store.write({ generation: 1 }, undefined, 'create');
      await refused(store.write({ generation: 2 }, `${created.revision}x`, 'advance'), store);
    });

    it('gives every write a new revision, accepted exactly once', async () => {
      const store = subject.open();
      const revisions = new Set<string>();
      let current = await store.write({ generation: 0 }, undefined, 'create');
      revisions.add(current.revision);
      for (let generation = 1; generation <= 5; generation++) {
        const previous = current.revision;
        current = await store.write({ generation }, previous, `generation ${generation}`);
        revisions.add(current.revision);
        await refused(store.write({ generation: -1 }, previous, 'replay'), store);
      }
      expect(revisions.size).toBe(6);
      await expect(store.read()).resolves.toEqual({ document: { generation: 5 }, revision: current.revision });
    });

    it('lets exactly one of several simultaneous writes from the same revision win', async () => {
      const created = await subject.open().write({ generation: 1 }, undefined, 'create');
      const handles = Array.from({ length: 6 }, () => subject.open());
      const results = await Promise.allSettled(handles.map((store, i) => store.write({ generation: 2, writer: i }, created.revision, `writer ${i}`)));
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RolloutConflictError);
      const winner = (won[0] as PromiseFulfilledResult<{ document: Record<string, unknown> }>).value;
      await expect(subject.open().read()).resolves.toMatchObject({ document: winner.document });
    });

    it('keeps the document whole and in order', async () => {
      const document = {
        phase: 'canary',
        generation: 7,
        slots: { stable: { version: 'v1' }, canary: { version: 'v2' } },
        steps: [
          { weight: 10, gate: 'passed' },
          { weight: 50, gate: 'pending' },
        ],
        lock: null,
        note: 'ünïcødé and "quotes"',
      };
      await subject.open().write(document, undefined, 'record');
      const read = await subject.open().read();
      expect(read!.document).toEqual(document);
      expect(JSON.stringify(read!.document)).toBe(JSON.stringify(document));
    });

    it('hands out copies: changing a returned document changes nothing stored', async () => {
      const store = subject.open();
      const written = await store.write({ slots: { canary: 'v2' } }, undefined, 'create');
      (written.document.slots as Record<string, string>).canary = 'tampered';
      const read = await store.read();
      (read!.document.slots as Record<string, string>).canary = 'tampered too';
      await expect(store.read()).resolves.toMatchObject({ document: { slots: { canary: 'v2' } } });
    });
  });
}
