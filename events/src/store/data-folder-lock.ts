import { randomUUID } from 'node:crypto';
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { KordonError } from '../errors.js';

/** The file in an embedded store's folder that names the process using it. */
export const LOCK_FILE = 'kordon.lock';

/** What the lock file holds: who has the folder, since when. */
interface LockHolder {
  pid: number;
  hostname: string;
  since: string;
  /** Which lock of its process: a release removes only its own. */
  token?: string;
}

/** The lock files this process holds: a lock naming our pid and not among them is an earlier run's. */
const heldHere = new Set<string>();

export class DataFolderInUseError extends KordonError {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
    what = 'the embedded database',
  ) {
    super(
      'data_folder_in_use',
      `${what} in ${dir} is in use by another process (${holder.pid > 0 ? `pid ${holder.pid}` : 'pid not yet written'} on ${holder.hostname}, since ${holder.since}): two processes on one folder overwrite each other's writes. Stop that process first, or give this one another KORDON_DATA_DIR; if no such process runs, delete ${join(dir, LOCK_FILE)}`,
    );
    this.name = 'DataFolderInUseError';
  }
}

/**
 * Takes an embedded database folder (or the event spool's) for this process, as PostgreSQL's
 * postmaster.pid does:
 * PGlite has no such guard, and a second process on the same folder keeps its own copy of
 * the database in memory, each overwriting the other's writes. The lock file is created
 * exclusively with this process's pid; one left by a process that is gone (a crash, a
 * SIGKILL) is stale and taken over. Returns the release, which removes the file.
 */
export function lockDataFolder(dir: string, what?: string): () => void {
  const file = resolve(dir, LOCK_FILE);
  const mine: LockHolder = {
    pid: process.pid,
    hostname: hostname(),
    since: new Date().toISOString(),
    token: randomUUID(),
  };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, text, { flag: 'wx' });
      heldHere.add(file);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw error;
    }
    const seen = readText(file);
    const holder = seen === undefined ? undefined : parseHolder(seen);
    if (heldHere.has(file) || (holder ? holdsIt(holder) : justCreated(file))) {
      throw new DataFolderInUseError(
        dir,
        holder ?? { pid: 0, hostname: 'unknown host', since: 'just now' },
        what,
      );
    }
    // Stale: its process is gone. Removed (unless another process took it over meanwhile),
    // then created once more, exclusively: of two processes taking over the same stale
    // lock, one finds the other's.
    if (readText(file) !== seen) continue;
    try {
      unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    heldHere.delete(file);
    // Only our own lock: never one another process took over after ours was judged stale.
    const text = readText(file);
    if (text === undefined || parseHolder(text)?.token !== mine.token) return;
    try {
      unlinkSync(file);
    } catch {
      // Already gone: nothing to release.
    }
  };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The holder a lock file names; undefined for a file cut short or damaged. */
function parseHolder(text: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(text) as Partial<LockHolder>;
    if (typeof holder.pid !== 'number' || !Number.isInteger(holder.pid) || holder.pid <= 0) return undefined;
    return {
      pid: holder.pid,
      hostname: typeof holder.hostname === 'string' ? holder.hostname : 'unknown host',
      since: typeof holder.since === 'string' ? holder.since : 'unknown time',
      ...(typeof holder.token === 'string' ? { token: holder.token } : {}),
    };
  } catch {
    return undefined;
  }
}

/** An unreadable lock file written in the last seconds: its process may be writing it now. */
function justCreated(file: string): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs < 10_000;
  } catch {
    return false;
  }
}

/** Whether the process a lock names still runs (on this machine: pids are all we can check). */
function holdsIt(holder: LockHolder): boolean {
  // Not one of ours (`heldHere`): left by an earlier run, a container gives the same pid at each start.
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return runsNode(holder.pid);
}

/**
 * Whether a live pid is a Node process (Kordon), where Linux lets us look: after a restart
 * its pid may have gone to an unrelated process, which holds no folder.
 */
function runsNode(pid: number): boolean {
  let commandLine: string;
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // no /proc (macOS) or not readable: a live pid is taken at its word
  }
  return /node|kordon/i.test(commandLine);
}
