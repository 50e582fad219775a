import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NdjsonReader } from './ndjson-reader.js';
import { endsOnFrameBoundary, type SseEvent, SseReader } from './sse-reader.js';

/** The bytes cut into pieces of the given sizes (the last piece takes the rest). */
async function* pieces(text: string, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text, 'utf8');
  let start = 0;
  for (const size of sizes) {
    if (start >= bytes.length) break;
    yield bytes.subarray(start, start + size);
    start += size;
  }
  if (start < bytes.length) yield bytes.subarray(start);
}

/** One byte at a time: every split a TCP stream can produce. */
function byteByByte(text: string): AsyncGenerator<Uint8Array> {
  return pieces(
    text,
    Array.from({ length: Buffer.byteLength(text) }, () => 1),
  );
}

/**
 * A body whose chunks have all arrived, as the upstream client's is after one network read:
 * its iterator and `takeBuffered` take from the same queue.
 */
function received(chunks: Iterable<Uint8Array> | AsyncGenerator<Uint8Array>) {
  const queue: Uint8Array[] = [];
  const ready = (async () => {
    for await (const chunk of chunks as AsyncIterable<Uint8Array>) queue.push(chunk);
  })();
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
      await ready;
      try {
        for (let chunk = queue.shift(); chunk !== undefined; chunk = queue.shift()) yield chunk;
      } finally {
        queue.length = 0; // let go, as the client's cancel does
      }
    },
    takeBuffered: (): Uint8Array | undefined => queue.shift(),
    pending: () => queue.length,
  };
}

async function readAll(reader: SseReader): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of reader) events.push(event);
  return events;
}

const OPENAI_STREAM =
  'data: {"choices":[{"delta":{"content":"Привет"}}]}\n\n' +
  ': ping\n\n' +
  'data: {"choices":[{"delta":{"content":" мир 👋"}}]}\n\n' +
  'data: [DONE]\n\n';

describe('SSE reader', () => {
  it('reads frames split at every byte, multi-byte characters included', async () => {
    const reader = new SseReader(byteByByte(OPENAI_STREAM));
    const events = await readAll(reader);
    assert.deepEqual(
      events.map((event) => event.data),
      [
        '{"choices":[{"delta":{"content":"Привет"}}]}',
        '{"choices":[{"delta":{"content":" мир 👋"}}]}',
        '[DONE]',
      ],
    );
    assert.equal(reader.comments, 1);
    assert.equal(reader.end, 'clean');
  });

  it('reads CRLF line ends split between CR and LF, with event names', async () => {
    const text =
      'event: message_start\r\ndata: {"a":1}\r\n\r\n: keep-alive\r\n\r\nevent: message_stop\r\ndata: {}\r\n\r\n';
    const cut = text.indexOf('\r\n\r\n') + 1;
    const reader = new SseReader(pieces(text, [cut, 3, 7]));
    const events = await readAll(reader);
    assert.deepEqual(
      events.map((event) => [event.event, event.data]),
      [
        ['message_start', '{"a":1}'],
        ['message_stop', '{}'],
      ],
    );
    assert.equal(reader.comments, 1);
    assert.equal(reader.end, 'clean');
  });

  it('ignores one leading byte order mark, split or whole, and keeps a second as data', async () => {
    for (const read of [byteByByte, (text: string) => pieces(text, [2])]) {
      const reader = new SseReader(read('\uFEFFdata: {"a":1}\n\n'));
      assert.deepEqual(
        (await readAll(reader)).map((event) => event.data),
        ['{"a":1}'],
      );
      assert.equal(reader.end, 'clean');
    }
    // Only one: a second mark starts the first line, which is then no `data:` field.
    const twice = new SseReader(byteByByte('\uFEFF\uFEFFdata: {"a":1}\n\n'));
    assert.deepEqual(await readAll(twice), []);
  });

  it('reports a body that stops inside a multi-byte character', async () => {
    const whole = Buffer.from('data: {"a":1}\n\n👋', 'utf8');
    async function* cut(): AsyncGenerator<Uint8Array> {
      yield whole.subarray(0, whole.length - 2);
    }
    const reader = new SseReader(cut());
    assert.deepEqual(
      (await readAll(reader)).map((event) => event.data),
      ['{"a":1}'],
    );
    assert.equal(reader.end, 'partial_frame');
  });

  it('tells of a read that brought keep-alive comments and no frame, not of one with a frame', async () => {
    const text = ': OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n: ping\ndata: {"a":1}\n\n';
    const reader = new SseReader(pieces(text, [25, 25]));
    const seen: string[] = [];
    reader.onKeepAlive = () => seen.push('keep-alive');
    for await (const event of reader) seen.push(event.data);
    assert.deepEqual(seen, ['keep-alive', 'keep-alive', '{"a":1}']);
    assert.equal(reader.comments, 3);
  });

  it('joins multi-line data and keeps ids', async () => {
    const reader = new SseReader(pieces('id: 7\ndata: line one\ndata: line two\n\n', [5]));
    assert.deepEqual(await readAll(reader), [{ event: undefined, data: 'line one\nline two', id: '7' }]);
  });

  it('reports a body that stops inside a frame, and drops that frame', async () => {
    const reader = new SseReader(pieces('data: {"a":1}\n\ndata: {"b":', [4]));
    const events = await readAll(reader);
    assert.deepEqual(
      events.map((event) => event.data),
      ['{"a":1}'],
    );
    assert.equal(reader.end, 'partial_frame');
  });

  it('reports a body that stops between the two line breaks of a frame', async () => {
    const reader = new SseReader(pieces('data: {"a":1}\n', [3]));
    assert.deepEqual(await readAll(reader), []);
    assert.equal(reader.end, 'partial_frame');
  });

  it('reports a body that stops inside a UTF-8 character', async () => {
    const bytes = Buffer.from('data: {"a":"é"}\n\n', 'utf8');
    async function* cutInCharacter(): AsyncGenerator<Uint8Array> {
      yield bytes.subarray(0, bytes.indexOf(0xc3) + 1);
    }
    const reader = new SseReader(cutInCharacter());
    await readAll(reader);
    assert.equal(reader.end, 'partial_frame');
  });

  it('passes body errors through, with no end', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('data: 1\n\n');
      throw new Error('socket reset');
    }
    const reader = new SseReader(broken());
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const event of reader) seen.push(event.data);
    }, /socket reset/);
    assert.deepEqual(seen, ['1']);
    assert.equal(reader.end, undefined);
  });

  it('pulls the body only as events are asked for', async () => {
    let pulled = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for (let index = 0; index < 5; index += 1) {
        pulled += 1;
        yield Buffer.from(`data: ${index}\n\n`);
      }
    }
    const iterator = new SseReader(counted())[Symbol.asyncIterator]();
    await iterator.next();
    assert.equal(pulled, 1);
    await iterator.return?.();
  });

  it('parses chunks already received in one synchronous pass, split frames and characters included', async () => {
    // A provider writes each frame as its own HTTP chunk: one network read brings many.
    const text = `${OPENAI_STREAM}data: {"z":"é"}\n\n`;
    const body = received(pieces(text, [20, 45, 30, 13, 60, 30, 2]));
    const reader = new SseReader(body, { takeBuffered: body.takeBuffered });
    assert.equal(reader.takeReady(), undefined, 'nothing before the iterator starts');
    const iterator = reader[Symbol.asyncIterator]();
    const first = await iterator.next();
    const seen = [first.value?.data];
    for (let event = reader.takeReady(); event !== undefined; event = reader.takeReady())
      seen.push(event.data);
    assert.deepEqual(seen, [
      '{"choices":[{"delta":{"content":"Привет"}}]}',
      '{"choices":[{"delta":{"content":" мир 👋"}}]}',
      '[DONE]',
      '{"z":"é"}',
    ]);
    assert.equal(body.pending(), 0, 'every received chunk taken without a promise');
    assert.equal(reader.comments, 1);
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    assert.equal(reader.end, 'clean');
  });

  it('tells of a received chunk of comments alone while taking frames synchronously', async () => {
    const body = received([
      Buffer.from('data: 1\n\n'),
      Buffer.from(': ping\n\n'),
      Buffer.from('data: 2\n\n'),
    ]);
    const reader = new SseReader(body, { takeBuffered: body.takeBuffered });
    const seen: string[] = [];
    reader.onKeepAlive = () => seen.push('keep-alive');
    const iterator = reader[Symbol.asyncIterator]();
    seen.push((await iterator.next()).value?.data ?? '');
    for (let event = reader.takeReady(); event !== undefined; event = reader.takeReady())
      seen.push(event.data);
    assert.deepEqual(seen, ['1', 'keep-alive', '2']);
  });

  it('fails the next read when a received chunk overflows the frame limit', async () => {
    const body = received([
      Buffer.from('data: 1\n\n'),
      Buffer.from(`data: ${'x'.repeat(200)}`),
      Buffer.from('\n\n'),
    ]);
    const reader = new SseReader(body, { takeBuffered: body.takeBuffered, maxFrameChars: 64 });
    const iterator = reader[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.data, '1');
    assert.equal(reader.takeReady(), undefined, 'the synchronous pass stops at the oversized frame');
    await assert.rejects(iterator.next(), { name: 'SseFramingError' });
    assert.equal(body.pending(), 0, 'the body is let go');
  });

  it('tells frame boundaries from line ends', () => {
    assert.ok(endsOnFrameBoundary(''));
    assert.ok(endsOnFrameBoundary('}\n\n'));
    assert.ok(endsOnFrameBoundary('\r\n\r\n'));
    assert.ok(endsOnFrameBoundary('\n\r\n'));
    assert.ok(endsOnFrameBoundary('}\r\r'));
    assert.ok(!endsOnFrameBoundary('}\r\n'));
    assert.ok(!endsOnFrameBoundary('}\n'));
    assert.ok(!endsOnFrameBoundary('data'));
  });
});

describe('NDJSON reader', () => {
  it('reads lines split at every byte, with CRLF and blank lines', async () => {
    const text = '{"text":"Здравствуйте"}\r\n\n{"text":"Здравствуйте!"}\n{"last":true}';
    const reader = new NdjsonReader(byteByByte(text));
    const lines: string[] = [];
    for await (const line of reader) lines.push(line);
    assert.deepEqual(lines, ['{"text":"Здравствуйте"}', '{"text":"Здравствуйте!"}', '{"last":true}']);
    assert.equal(reader.end, 'clean');
  });

  it('reports a body that stops inside a character', async () => {
    const bytes = Buffer.from('{"a":"й"}\n', 'utf8');
    async function* cut(): AsyncGenerator<Uint8Array> {
      yield bytes.subarray(0, bytes.indexOf(0xd0) + 1);
    }
    const reader = new NdjsonReader(cut());
    for await (const _line of reader) {
      // drain
    }
    assert.equal(reader.end, 'partial_frame');
  });
});
