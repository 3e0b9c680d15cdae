import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** A name beside `file` that no other process or call uses, for content on its way into place. */
function privateName(file: string, suffix: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString('hex')}.${suffix}`;
}

/** Writes `text` to `file` and flushes it to the disk, so a rename or link that follows publishes whole content. */
function writeDurably(file: string, text: string): void {
  const fd = openSync(file, 'wx', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/**
 * Creates `file` with its whole content in one step, or returns false when it exists: the
 * content is written to a private file first and hard-linked into place, so no reader ever sees
 * a file that exists but is still empty. link() is atomic on local file systems and NFS alike.
 */
export function createExclusively(file: string, value: unknown): boolean {
  const tmp = privateName(file, 'new');
  writeDurably(tmp, JSON.stringify(value, null, 2));
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    removeQuietly(tmp);
  }
}

/** Replaces `file` with `value` as JSON in one step (write aside, flush, rename): readers see the old or the new content, never a mix. */
export function writeAtomically(file: string, value: unknown): void {
  const tmp = privateName(file, 'tmp');
  try {
    writeDurably(tmp, JSON.stringify(value, null, 2));
    renameSync(tmp, file);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  syncDirectory(dirname(file));
}

/** Flushes a directory entry change (a rename) where the platform allows it; best-effort. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported here (some file systems refuse fsync on a directory): the rename itself is still atomic */
  }
}
