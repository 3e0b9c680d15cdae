/**
 * A writer process for the file store's concurrency tests, run with tsx:
 *   increment <dir> <count> <name>: adds one to the record's counter `count` times (read, write, retry on conflict)
 *   hold <dir>: takes the record's write lock, says "held", and waits to be killed
 */
import { FileRolloutStore } from '../../src/core/rollout/file-store.js';
import { RolloutConflictError } from '../../src/core/rollout/store.js';

const [mode, dir, countArg, name] = process.argv.slice(2);
const store = new FileRolloutStore(dir!, { service: 'orders', environment: 'production' });

if (mode === 'hold') {
  await store.writeLock.take();
  process.stdout.write('held\n');
  setInterval(() => undefined, 60_000);
} else if (mode === 'increment') {
  let conflicts = 0;
  for (let i = 0; i < Number(countArg); i++) {
    for (;;) {
      const current = await store.read();
      const count = ((current?.document.count as number | undefined) ?? 0) + 1;
      const entries = [...((current?.document.entries as string[] | undefined) ?? []), `${name}:${i}`];
      try {
        await store.write({ count, entries }, current?.revision, `${name} step ${i}`);
        break;
      } catch (err) {
        if (!(err instanceof RolloutConflictError)) throw err;
        conflicts++;
      }
    }
  }
  process.stdout.write(`${JSON.stringify({ name, conflicts })}\n`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
