import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import {
  LOG_FILE_ERROR,
  LOG_FILE_RECOVERED,
  type LogFileError,
  type LogFileRecovered,
  type LogFileTargetOptions,
} from './log-file-messages.js';

// pino-roll ships no types: its options are LogFileTargetOptions, less `retryMs`.
const roll = createRequire(import.meta.url)('pino-roll') as (
  options: Omit<LogFileTargetOptions, 'retryMs'>,
) => Promise<unknown>;

/**
 * The log file's writer, run by pino in its worker thread: pino-roll (size and time rotation),
 * kept alive through write errors. Pino's worker takes any error of its destination as fatal:
 * the worker ends, and every later log call throws in the main thread ("the worker has
 * exited") — an uncaught exception that stopped the whole server when a disk filled up. Here
 * an error instead turns the writer to "failing": lines are dropped (counted) rather than held
 * in memory, the file is reopened every `retryMs`, and the main thread is told of both changes
 * (EVENT messages pino's thread-stream re-emits on its side) to say so on stderr.
 *
 * A log file removed while open (its folder deleted, `rm` by hand) takes lines without an error
 * (the open file lives on, unlinked): every `retryMs` the path is checked, and a missing file is
 * a failure too, reopened at once (the folder made again).
 */

type Sonic = EventEmitter & {
  file: string;
  write(data: string): boolean;
  reopen(file?: string): void;
  end(): void;
  destroy(): void;
  flush(cb?: (error?: Error) => void): void;
};

const post = (name: string, payload: object) =>
  parentPort?.postMessage({ code: 'EVENT', name, args: [payload] });

class ResilientLogFile extends EventEmitter {
  private failing: { since: number; dropped: number } | undefined;
  private errors = 0;
  private ending = false;
  /** Pino's worker waits for one 'drain' after a write that returned false, and only then. */
  private drainOwed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly sonic: Sonic,
    retryMs: number,
  ) {
    super();
    // A reopen that fails leaves behind its listener that closes the old descriptor at the next
    // open that succeeds: after several failures, one close each, of a descriptor number that the
    // process may by then have given to another file. pino-roll's rolls reopen through this too.
    const reopen = sonic.reopen.bind(sonic);
    sonic.reopen = (file?: string) => {
      const before = new Set(sonic.listeners('ready'));
      try {
        reopen(file);
      } catch (error) {
        for (const listener of sonic.listeners('ready'))
          if (!before.has(listener)) sonic.off('ready', listener as (...args: unknown[]) => void);
        throw error;
      }
    };
    sonic.on('error', (error: NodeJS.ErrnoException) => this.fail(error));
    sonic.on('drain', () => this.drained());
    sonic.on('close', () => {
      clearInterval(this.timer);
      this.emit('close');
    });
    this.timer = setInterval(() => this.check(), retryMs);
  }

  /** Pino's worker hands over whole lines; while failing they are counted and let go. */
  write(chunk: string): boolean {
    if (this.failing) {
      this.failing.dropped += countLines(chunk);
      return true;
    }
    let written: boolean;
    try {
      written = this.sonic.write(chunk);
    } catch (error) {
      this.fail(error as NodeJS.ErrnoException);
      return true;
    }
    if (this.failing) return true; // this write failed (reported through 'error')
    if (!written) this.drainOwed = true;
    return written;
  }

  flush(cb: (error?: Error) => void): void {
    if (this.failing) {
      cb();
      return;
    }
    // A failure is reported through 'error', never to pino's worker (it would end).
    this.sonic.flush(() => cb());
  }

  end(): void {
    this.ending = true;
    clearInterval(this.timer);
    // What cannot be written is not waited for: the process is stopping.
    if (this.failing) this.sonic.destroy();
    else this.sonic.end();
  }

  private drained(): void {
    if (!this.drainOwed) return;
    this.drainOwed = false;
    this.emit('drain');
  }

  private fail(error: NodeJS.ErrnoException): void {
    this.errors++;
    if (this.ending) {
      this.sonic.destroy();
      return;
    }
    this.failing ??= { since: Date.now(), dropped: 0 };
    post(LOG_FILE_ERROR, {
      path: this.sonic.file,
      code: error.code,
      message: error.message,
    } satisfies LogFileError);
    // A write that failed brings no drain of its own.
    this.drained();
  }

  private check(): void {
    if (this.failing) {
      this.reopen();
      return;
    }
    try {
      statSync(this.sonic.file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return;
      const removed = new Error('it was removed while open; lines written to it since are lost');
      this.fail(Object.assign(removed, { code }));
      this.reopen();
    }
  }

  /** Opens the file again (its folder made again); what the failed write held is written first. */
  private reopen(): void {
    const failing = this.failing;
    if (!failing) return;
    const errors = this.errors;
    try {
      this.sonic.reopen();
    } catch {
      // Reported through 'error' (next tick), counted there; the next check tries again.
      return;
    }
    if (this.errors !== errors) return; // opened, but the held lines could not be written
    this.failing = undefined;
    post(LOG_FILE_RECOVERED, {
      path: this.sonic.file,
      dropped: failing.dropped,
      failedForMs: Date.now() - failing.since,
    } satisfies LogFileRecovered);
  }
}

function countLines(chunk: string): number {
  let lines = 0;
  for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) lines++;
  return lines;
}

export default async function logFileTarget({ retryMs, ...options }: LogFileTargetOptions) {
  // A file that cannot be opened at start rejects here: the start is refused (logReady).
  const sonic = (await roll(options)) as Sonic;
  return new ResilientLogFile(sonic, retryMs);
}
