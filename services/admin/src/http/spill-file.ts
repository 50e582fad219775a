import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes read back at a time. */
const READ_BYTES = 64 * 1024;

/**
 * A file an answer is written to before it is sent, so that what it holds can be read at the
 * database's pace and sent at the client's: memory stays one page, and a slow client holds a
 * file, not a connection. The file is unlinked as soon as it is open (only its handle reaches
 * it, and a process that dies leaves nothing behind); `pieces` reads it back once and closes
 * it, and so does `close`.
 */
export class SpillFile {
  readonly #handle: FileHandle;
  #size = 0;
  #closed = false;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  static async create(dir: string): Promise<SpillFile> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, `kordon-export-${randomUUID()}.tmp`);
    // 'wx': a new file, never one that was there; owner-only, since it holds a report.
    const handle = await open(path, 'wx+', 0o600);
    try {
      await unlink(path);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return new SpillFile(handle);
  }

  get size(): number {
    return this.#size;
  }

  async write(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.#handle.write(bytes, done, bytes.length - done, this.#size + done);
      done += bytesWritten;
    }
    this.#size += bytes.length;
  }

  /** What was written, from the start, then closed (also when the reader stops early). */
  async *pieces(): AsyncGenerator<Uint8Array> {
    try {
      let position = 0;
      while (position < this.#size) {
        const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, this.#size - position));
        const { bytesRead } = await this.#handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) throw new Error('the export file ended before its size');
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }
}
