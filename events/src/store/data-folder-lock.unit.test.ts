import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataFolderInUseError, LOCK_FILE, lockDataFolder } from './data-folder-lock.js';

const folder = (t: { after(fn: () => void): void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'kordon-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const lockNaming = (dir: string, pid: number) =>
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, hostname: 'h', since: '2026-01-01T00:00:00Z' }));

test('a folder is held by one holder at a time, and free again once released', (t) => {
  const dir = folder(t);
  const release = lockDataFolder(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  assert.throws(() => lockDataFolder(dir), DataFolderInUseError);
  release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'the lock file is removed');
  lockDataFolder(dir)();
});

test('a lock held by a running process refuses, naming it and the file to delete', async (t) => {
  const dir = folder(t);
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  await new Promise((resolve) => holder.once('spawn', resolve));
  lockNaming(dir, holder.pid!);
  assert.throws(
    () => lockDataFolder(dir),
    (error: unknown) =>
      error instanceof DataFolderInUseError &&
      error.code === 'data_folder_in_use' &&
      error.message.includes(`pid ${holder.pid}`) &&
      error.message.includes(join(dir, LOCK_FILE)),
  );
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, holder.pid, 'left as it was');
});

test('a lock left by a process that is gone (a crash, a SIGKILL) is stale and taken over', (t) => {
  const dir = folder(t);
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  lockNaming(dir, gone);
  const release = lockDataFolder(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  release();
});

test("a lock naming this process's pid that it does not hold was left by an earlier run (a container's pid 1)", (t) => {
  const dir = folder(t);
  lockNaming(dir, process.pid);
  lockDataFolder(dir)();
});

test('a damaged lock file is stale once it is not being written any more', (t) => {
  const dir = folder(t);
  writeFileSync(join(dir, LOCK_FILE), '');
  assert.throws(
    () => lockDataFolder(dir),
    DataFolderInUseError,
    'just created: its process may be writing it',
  );
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(dir, LOCK_FILE), old, old);
  lockDataFolder(dir)();
});

test('a release removes only its own lock', (t) => {
  const dir = folder(t);
  const release = lockDataFolder(dir);
  lockNaming(dir, 1); // taken over meanwhile (ours judged stale)
  release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), true);
});
