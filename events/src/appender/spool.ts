import {
  closeSync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { type NewEvent, NewEventSchema } from '../envelope.js';
import { KordonError } from '../errors.js';

export interface SpoolOptions {
  dir: string;
  /** The spool refuses writes past this many bytes on disk. */
  maxBytes: number;
  /** A segment is sealed and a new one started past this size. */
  segmentBytes?: number;
}

export interface SpoolSegment {
  name: string;
  events: NewEvent[];
  bytes: number;
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

  constructor(private readonly options: SpoolOptions) {
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
    mkdirSync(options.dir, { recursive: true });
    let torn = 0;
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

  /** Appends a batch durably, or throws `SpoolFullError` and writes nothing. */
  write(events: NewEvent[]): void {
    if (events.length === 0) return;
    const text = `${events.map((event) => JSON.stringify(event)).join('\n')}\n`;
    const size = Buffer.byteLength(text);
    if (this.totalBytes + size > this.options.maxBytes)
      throw new SpoolFullError(this.totalBytes, this.options.maxBytes);
    let active = this.segments[this.segments.length - 1];
    if (this.activeFd === undefined || !active || active.bytes >= this.segmentBytes) {
      this.seal();
      active = { seq: this.nextSeq++, bytes: 0, events: 0 };
      this.activeFd = openSync(this.path(active.seq), 'a');
      this.segments.push(active);
    }
    writeSync(this.activeFd, text);
    fdatasyncSync(this.activeFd);
    active.bytes += size;
    active.events += events.length;
    this.totalBytes += size;
    this.totalEvents += events.length;
  }

  /** The oldest segment's events; seals the active segment when it is the only one left. */
  readOldest(): SpoolSegment | undefined {
    const oldest = this.segments[0];
    if (!oldest) return undefined;
    if (this.segments.length === 1) this.seal();
    const file = this.path(oldest.seq);
    const events: NewEvent[] = [];
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (error) {
        if (i === lines.length - 1) continue; // torn tail of a crash: never acknowledged
        this.quarantine(oldest.seq);
        throw new KordonError(
          'spool_corrupt',
          `spool segment ${file} line ${i + 1} is not JSON; moved aside`,
          {
            cause: error,
          },
        );
      }
      const result = NewEventSchema.safeParse(parsed);
      if (!result.success) {
        this.quarantine(oldest.seq);
        throw new KordonError(
          'spool_corrupt',
          `spool segment ${file} line ${i + 1} is not an event; moved aside`,
          {
            cause: result.error,
          },
        );
      }
      events.push(result.data);
    }
    return { name: String(oldest.seq), events, bytes: oldest.bytes };
  }

  /** Deletes a replayed segment. */
  remove(segment: SpoolSegment): void {
    const index = this.segments.findIndex((s) => String(s.seq) === segment.name);
    if (index < 0) return;
    const [removed] = this.segments.splice(index, 1);
    if (this.activeFd !== undefined && index === this.segments.length) this.seal();
    unlinkSync(this.path(removed!.seq));
    this.totalBytes -= removed!.bytes;
    this.totalEvents -= removed!.events;
  }

  close(): void {
    this.seal();
  }

  private seal(): void {
    if (this.activeFd !== undefined) closeSync(this.activeFd);
    this.activeFd = undefined;
  }

  private quarantine(seq: number): void {
    const index = this.segments.findIndex((s) => s.seq === seq);
    const [segment] = this.segments.splice(index, 1);
    if (this.segments.length === 0) this.seal();
    mkdirSync(join(this.options.dir, 'corrupt'), { recursive: true });
    renameSync(this.path(seq), join(this.options.dir, 'corrupt', `${String(seq).padStart(12, '0')}.jsonl`));
    this.totalBytes -= segment?.bytes ?? 0;
    this.totalEvents -= segment?.events ?? 0;
  }

  private path(seq: number): string {
    return join(this.options.dir, `${String(seq).padStart(12, '0')}.jsonl`);
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
