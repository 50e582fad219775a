import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { NewEvent } from '../envelope.js';
import { DataFolderInUseError, LOCK_FILE } from '../store/data-folder-lock.js';
import { testEvent, uniqueStream } from '../testing/events.js';
import { Spool } from './spool.js';

/** A folder's entries but the spool's lock file. */
const withoutLock = (names: string[]) => names.filter((name) => name !== LOCK_FILE);

/*
 * write(2) on a regular file may write fewer bytes than asked when the disk (or the process's
 * file size limit) runs out: it returns the short count, and only the next call fails with
 * ENOSPC. `fs.writeSync` passes that count on without throwing.
 */
const realWriteSync = fs.writeSync;

/** The next `writeSync` calls behave as given (a short count, or an error), then the real one. */
function diskFilling(...calls: Array<'short' | 'ENOSPC'>): void {
  // biome-ignore lint/suspicious/noExplicitAny: overloads of writeSync
  (fs as any).writeSync = (fd: number, data: string | Buffer, ...rest: number[]) => {
    const call = calls.shift();
    if (call === undefined) {
      // biome-ignore lint/suspicious/noExplicitAny: pass through
      return (realWriteSync as any)(fd, data, ...rest);
    }
    if (call === 'ENOSPC')
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    const bytes = typeof data === 'string' ? Buffer.from(data) : data.subarray(rest[0] ?? 0);
    const length = typeof data === 'string' ? bytes.length : (rest[1] ?? bytes.length);
    return realWriteSync(fd, bytes, 0, Math.floor(length / 2));
  };
  syncBuiltinESMExports();
}

function realDisk(): void {
  fs.writeSync = realWriteSync;
  syncBuiltinESMExports();
}

const batch = (stream: string, from: number): NewEvent[] =>
  Array.from({ length: 5 }, (_, i) => testEvent(stream, { i: from + i }));

function replayAll(spool: Spool): { ids: string[]; corrupt: number } {
  let ids: string[] = [];
  let corrupt = 0;
  for (let segment = spool.readOldest(); segment; segment = spool.readOldest()) {
    ids = ids.concat(segment.events.map((e) => e.id));
    corrupt += segment.corrupt.length;
    spool.remove(segment);
  }
  return { ids, corrupt };
}

describe('Spool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kordon-spool-'));
  });
  afterEach(() => {
    realDisk();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the rest of a batch a write cut short, so every batch it acknowledged is replayed', () => {
    const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 10_000_000 });
    const stream = uniqueStream();
    const [first, second, third] = [batch(stream, 0), batch(stream, 5), batch(stream, 10)];

    spool.write(first);
    diskFilling('short');
    spool.write(second);
    realDisk();
    spool.write(third);

    const replayed = replayAll(spool);
    spool.close();
    assert.deepEqual(replayed, { ids: [...first, ...second, ...third].map((e) => e.id), corrupt: 0 });
  });

  it('throws when the disk is full and cuts the partial batch off, so the next batch starts on a clean line', () => {
    const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 10_000_000 });
    const stream = uniqueStream();
    const [first, second, third] = [batch(stream, 0), batch(stream, 5), batch(stream, 10)];

    spool.write(first);
    const segment = join(dir, 'spool', '000000000001.jsonl');
    const sizeBefore = statSync(segment).size;
    diskFilling('short', 'ENOSPC');
    assert.throws(() => spool.write(second), /ENOSPC/); // the caller keeps the batch and tries again
    realDisk();
    assert.equal(statSync(segment).size, sizeBefore, 'the partial batch is cut off');
    assert.equal(spool.events, first.length);
    spool.write(third);

    const replayed = replayAll(spool);
    spool.close();
    assert.deepEqual(replayed, { ids: [...first, ...third].map((e) => e.id), corrupt: 0 });
  });

  it("makes a new segment's name durable too before its first batch is acknowledged", () => {
    const spoolDir = join(dir, 'spool');
    const spool = new Spool({ dir: spoolDir, maxBytes: 10_000_000, segmentBytes: 1 });
    const realOpenSync = fs.openSync;
    const realFsyncSync = fs.fsyncSync;
    const opened = new Map<number, string>();
    const synced: string[] = [];
    // biome-ignore lint/suspicious/noExplicitAny: overloads of openSync
    (fs as any).openSync = (path: string, ...rest: unknown[]) => {
      // biome-ignore lint/suspicious/noExplicitAny: pass through
      const fd = (realOpenSync as any)(path, ...rest) as number;
      opened.set(fd, String(path));
      return fd;
    };
    fs.fsyncSync = (fd: number) => {
      synced.push(opened.get(fd) ?? `fd ${fd}`);
      realFsyncSync(fd);
    };
    syncBuiltinESMExports();
    try {
      const stream = uniqueStream();
      spool.write(batch(stream, 0));
      spool.write(batch(stream, 5)); // past segmentBytes: a second segment
    } finally {
      fs.openSync = realOpenSync;
      fs.fsyncSync = realFsyncSync;
      syncBuiltinESMExports();
    }
    // fdatasync(2) makes a file's bytes durable, not its entry in the folder: a power cut
    // could lose a segment created since the folder was last synced, acknowledged batches and all.
    assert.deepEqual(synced, [spoolDir, spoolDir], 'the folder is synced once per new segment');
    spool.close();
  });

  it('keeps a segment it could not delete, so the replay can find it and delete it again', () => {
    const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 10_000_000 });
    const stream = uniqueStream();
    spool.write(batch(stream, 0));
    const segment = spool.readOldest()!;
    const realUnlinkSync = fs.unlinkSync;
    fs.unlinkSync = () => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    syncBuiltinESMExports();
    try {
      assert.throws(() => spool.remove(segment), /EACCES/);
    } finally {
      fs.unlinkSync = realUnlinkSync;
      syncBuiltinESMExports();
    }
    // Not empty (its events are still on disk), so the next read must hand the segment back.
    assert.equal(spool.events, 5);
    const again = spool.readOldest();
    assert.deepEqual(again?.name, segment.name, 'a spool that is not empty has a segment to read');
    spool.remove(again!);
    assert.equal(spool.isEmpty(), true);
    assert.deepEqual(withoutLock(readdirSync(join(dir, 'spool'))), []);
    spool.close();
  });

  it('counts a segment already gone from disk as removed', () => {
    const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 10_000_000 });
    spool.write(batch(uniqueStream(), 0));
    const segment = spool.readOldest()!;
    rmSync(join(dir, 'spool', '000000000001.jsonl'));
    spool.remove(segment);
    assert.equal(spool.isEmpty(), true);
    assert.equal(spool.bytes, 0);
    spool.close();
  });

  it('a damaged line in the middle of a segment costs that line, reported and kept aside, not the segment', () => {
    const stream = uniqueStream();
    const [first, second] = [batch(stream, 0), batch(stream, 5)];
    {
      const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 10_000_000 });
      spool.write(first);
      spool.close();
    }
    // A segment left by an earlier version: a batch cut short, the next glued onto it, and a
    // line that is JSON but no event.
    const file = join(dir, 'spool', '000000000001.jsonl');
    appendFileSync(file, `{"id":"cut short","ty`);
    appendFileSync(file, `${second.map((e) => JSON.stringify(e)).join('\n')}\n{"not":"an event"}\n`);

    const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 10_000_000 });
    const segment = spool.readOldest()!;
    assert.deepEqual(
      segment.events.map((e) => e.id),
      [...first, ...second.slice(1)].map((e) => e.id),
    );
    assert.deepEqual(
      segment.corrupt.map((c) => ({ line: c.line, reason: c.reason.split(':')[0] })),
      [
        { line: 6, reason: 'not JSON' },
        { line: 11, reason: 'not an event' },
      ],
    );
    assert.equal(segment.corruptFile, join(dir, 'spool', 'corrupt', '000000000001.jsonl'));
    assert.deepEqual(readFileSync(segment.corruptFile, 'utf8').split('\n').filter(Boolean), [
      `{"id":"cut short","ty${JSON.stringify(second[0])}`,
      '{"not":"an event"}',
    ]);
    spool.remove(segment);
    assert.equal(spool.isEmpty(), true);
    assert.deepEqual(withoutLock(readdirSync(join(dir, 'spool'))), ['corrupt']);
    spool.close();
  });
  it("is one process's: a second on the folder is refused at open, naming the spool", async () => {
    const spoolDir = join(dir, 'spool');
    const spool = new Spool({ dir: spoolDir, maxBytes: 10_000_000 });
    assert.throws(
      () => new Spool({ dir: spoolDir, maxBytes: 10_000_000 }),
      (error: unknown) => error instanceof DataFolderInUseError && /the event spool in/.test(error.message),
    );
    // Another process, while this one holds it: refused too (a deploy starting the next one first).
    const child = spawnSync(
      process.execPath,
      [
        '--conditions=development',
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { Spool } from ${JSON.stringify(new URL('./spool.ts', import.meta.url).href)};
         try { new Spool({ dir: ${JSON.stringify(spoolDir)}, maxBytes: 1000 }); console.log('opened'); }
         catch (error) { console.log(error.code); }`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(child.stdout.trim(), 'data_folder_in_use', child.stderr);
    spool.close();
    // Once closed, the folder is free again.
    new Spool({ dir: spoolDir, maxBytes: 10_000_000 }).close();
  });
  it('makes its folder readable by this user only', () => {
    const spoolDir = join(dir, 'private', 'spool');
    const spool = new Spool({ dir: spoolDir, maxBytes: 10_000_000 });
    assert.equal(statSync(spoolDir).mode & 0o777, 0o700);
    spool.close();
  });
});
