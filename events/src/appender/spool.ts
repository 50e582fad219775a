import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { type NewEvent, NewEventSchema } from '../envelope.js';
import { KordonError } from '../errors.js';
import { lockDataFolder } from '../store/data-folder-lock.js';

export interface SpoolOptions {
  dir: string;
  /** The spool refuses writes past this many bytes on disk. */
  maxBytes: number;
  /**
   * A segment is sealed and a new one started past this size (default 4 MB). The replay reads
   * and checks a whole segment at once, on the event loop: the size bounds that pause and the
   * memory it holds (docs/benchmarks.md: 16 MB segments held p99 at 200-226 ms after an 8 s
   * outage under load, 4 MB ones at 112-139 ms, with 25-54 MB less peak RSS).
   */
  segmentBytes?: number;
}

export interface SpoolSegment {
  name: string;
  events: NewEvent[];
  bytes: number;
  /** Lines that hold no event (damaged on disk): left out, and copied to `corruptFile`. */
  corrupt: Array<{ line: number; reason: string }>;
  corruptFile?: string;
}

export class SpoolFullError extends KordonError {
  constructor(bytes: number, maxBytes: number) {
    super('spool_full', `event spool is full (${bytes} of ${maxBytes} bytes)`, { isRetryable: true });
    this.name = 'SpoolFullError';
  }
}

const SEGMENT = /^(\d{12})\.jsonl$/;

/**
 * A bounded FIFO of event batches on local disk, used while the event store is
 * unreachable. Each write is one fsynced append of JSON lines to the active segment;
 * segments are replayed oldest first and deleted only after the store has them (the
 * store skips ids it already has, so a crash between the two writes nothing twice).
 *
 * Writes are synchronous on purpose: they happen only during an outage, in batches, and
 * a synchronous append+fsync cannot interleave with another write of this process.
 */
export class Spool {
  private readonly segmentBytes: number;
  private segments: Array<{ seq: number; bytes: number; events: number }> = [];
  private activeFd: number | undefined;
  private nextSeq = 1;
  private totalBytes = 0;
  private totalEvents = 0;
  /** Lines dropped at open because a crash cut them short (never acknowledged). */
  readonly tornLines: number;
  readonly #unlock: () => void;

  constructor(private readonly options: SpoolOptions) {
    this.segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    // One process a spool: two on one folder (one KORDON_DATA_DIR) append to and replay the
    // same segments, and one deletes a segment holding the other's acknowledged events.
    this.#unlock = lockDataFolder(options.dir, 'the event spool');
    let torn = 0;
    try {
      for (const name of readdirSync(options.dir).sort()) {
        const match = SEGMENT.exec(name);
        if (!match) continue;
        const seq = Number(match[1]);
        const { events, tornTail } = countLines(join(options.dir, name));
        torn += tornTail;
        const bytes = statSync(join(options.dir, name)).size;
        this.segments.push({ seq, bytes, events });
        this.totalBytes += bytes;
        this.totalEvents += events;
        this.nextSeq = Math.max(this.nextSeq, seq + 1);
      }
    } catch (error) {
      this.#unlock();
      throw error;
    }
    this.tornLines = torn;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get events(): number {
    return this.totalEvents;
  }

  get maxBytes(): number {
    return this.options.maxBytes;
  }

  isEmpty(): boolean {
    return this.totalEvents === 0;
  }

  /**
   * Appends a batch durably, or throws and leaves the segment as it was: `SpoolFullError`
   * past `maxBytes`, or the error of the disk (ENOSPC, EIO), after which the caller must not
   * acknowledge the batch.
   */
  write(events: NewEvent[]): void {
    if (events.length === 0) return;
    const bytes = Buffer.from(`${events.map((event) => JSON.stringify(event)).join('\n')}\n`);
    const size = bytes.length;
    if (this.totalBytes + size > this.options.maxBytes)
      throw new SpoolFullError(this.totalBytes, this.options.maxBytes);
    let active = this.segments[this.segments.length - 1];
    if (this.activeFd === undefined || !active || active.bytes >= this.segmentBytes) {
      this.seal();
      const seq = this.nextSeq++;
      const fd = openSync(this.path(seq), 'a');
      try {
        // fdatasync(2) below makes the segment's bytes durable, not its name in the folder: a
        // power cut could otherwise lose a new segment whole, with the batches it acknowledged.
        syncFolder(this.options.dir);
      } catch (error) {
        closeSync(fd);
        throw error;
      }
      active = { seq, bytes: 0, events: 0 };
      this.activeFd = fd;
      this.segments.push(active);
    }
    const fd = this.activeFd;
    try {
      writeAll(fd, bytes);
      fdatasyncSync(fd);
    } catch (error) {
      // Cut the partial batch off, so the next batch does not start on a broken line. If even
      // that fails, the segment is sealed with the partial batch as its (ignored) last line.
      try {
        ftruncateSync(fd, active.bytes);
      } catch {
        this.seal();
      }
      throw error;
    }
    active.bytes += size;
    active.events += events.length;
    this.totalBytes += size;
    this.totalEvents += events.length;
  }

  /**
   * The oldest segment's events; seals the active segment when it is the only one left.
   * A line that holds no event costs that line only: it is left out, reported in `corrupt`
   * and copied to `corrupt/`. Each line is a whole event (JSON never holds a raw newline)
   * and batches are only appended after whole ones, so the lines around it are intact.
   */
  readOldest(): SpoolSegment | undefined {
    const oldest = this.segments[0];
    if (!oldest) return undefined;
    if (this.segments.length === 1) this.seal();
    const file = this.path(oldest.seq);
    const events: NewEvent[] = [];
    const corrupt: SpoolSegment['corrupt'] = [];
    const corruptLines: string[] = [];
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0) continue;
      let reason: string;
      try {
        const result = NewEventSchema.safeParse(JSON.parse(line));
        if (result.success) {
          events.push(result.data);
          continue;
        }
        reason = `not an event: ${result.error.message}`;
      } catch (error) {
        if (i === lines.length - 1) continue; // torn tail of a crash: never acknowledged
        reason = `not JSON: ${error instanceof Error ? error.message : String(error)}`;
      }
      corrupt.push({ line: i + 1, reason: reason.slice(0, 500) });
      corruptLines.push(line);
    }
    const segment: SpoolSegment = { name: String(oldest.seq), events, bytes: oldest.bytes, corrupt };
    if (corrupt.length > 0) {
      // Kept for an operator before the segment is deleted; rewritten whole, so reading the
      // segment again (a replay that failed) writes nothing twice.
      mkdirSync(join(this.options.dir, 'corrupt'), { recursive: true, mode: 0o700 });
      segment.corruptFile = join(
        this.options.dir,
        'corrupt',
        `${String(oldest.seq).padStart(12, '0')}.jsonl`,
      );
      writeWhole(segment.corruptFile, Buffer.from(`${corruptLines.join('\n')}\n`));
    }
    return segment;
  }

  /** Deletes a replayed segment. */
  remove(segment: SpoolSegment): void {
    const index = this.segments.findIndex((s) => String(s.seq) === segment.name);
    if (index < 0) return;
    const removed = this.segments[index]!;
    if (this.activeFd !== undefined && index === this.segments.length - 1) this.seal();
    // Deleted before it leaves the list: one the disk would not delete stays listed and counted,
    // for the replay to read and delete again (its events are stored: nothing is written twice).
    // Left counted but unlisted, the spool would be neither empty nor readable, and the replay
    // would spin on it. One already gone (deleted by hand) is removed.
    try {
      unlinkSync(this.path(removed.seq));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    this.segments.splice(index, 1);
    this.totalBytes -= removed.bytes;
    this.totalEvents -= removed.events;
  }

  close(): void {
    this.seal();
    this.#unlock();
  }

  private seal(): void {
    if (this.activeFd !== undefined) closeSync(this.activeFd);
    this.activeFd = undefined;
  }

  private path(seq: number): string {
    return join(this.options.dir, `${String(seq).padStart(12, '0')}.jsonl`);
  }
}

/**
 * A write may stop part-way without an error (a disk filling up): write the rest; the
 * error, if there is one, comes from the next call.
 */
function writeAll(fd: number, bytes: Buffer): void {
  for (let written = 0; written < bytes.length; ) {
    const count = writeSync(fd, bytes, written, bytes.length - written);
    if (count <= 0)
      throw new Error(`write to the event spool made no progress (${written} of ${bytes.length} bytes)`);
    written += count;
  }
}

/** Makes the entries of a folder (a file created in it) durable. */
function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates or replaces a file, fsynced: the segment it comes from is deleted after. */
function writeWhole(file: string, bytes: Buffer): void {
  const fd = openSync(file, 'w');
  try {
    writeAll(fd, bytes);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function countLines(file: string): { events: number; tornTail: number } {
  const text = readFileSync(file, 'utf8');
  let events = 0;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
    if (i > start) events++;
    start = i + 1;
  }
  return { events, tornTail: start < text.length ? 1 : 0 };
}
