import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { contentCodings, decodeContent } from './content-encoding.js';
import { isUpstreamError } from './upstream-error.js';

const ORIGIN = 'https://api.example';
const answer = Buffer.from(JSON.stringify({ id: 'x', choices: [{ message: { content: 'hello' } }] }));

test('the codings of a content-encoding header, identity left out', () => {
  assert.deepEqual(contentCodings({}), []);
  assert.deepEqual(contentCodings({ 'content-encoding': 'identity' }), []);
  assert.deepEqual(contentCodings({ 'content-encoding': 'GZIP' }), ['gzip']);
  assert.deepEqual(contentCodings({ 'content-encoding': 'deflate, br' }), ['deflate', 'br']);
  assert.deepEqual(contentCodings({ 'content-encoding': ['gzip', 'br'] }), ['gzip', 'br']);
});

test('gzip, deflate, brotli and a chain of them decode to the answer', () => {
  assert.deepEqual(decodeContent(gzipSync(answer), ['gzip'], 1 << 20, ORIGIN), answer);
  assert.deepEqual(decodeContent(gzipSync(answer), ['x-gzip'], 1 << 20, ORIGIN), answer);
  assert.deepEqual(decodeContent(deflateSync(answer), ['deflate'], 1 << 20, ORIGIN), answer);
  assert.deepEqual(decodeContent(brotliCompressSync(answer), ['br'], 1 << 20, ORIGIN), answer);
  // Applied gzip first, then br: undone in the other order.
  assert.deepEqual(
    decodeContent(brotliCompressSync(gzipSync(answer)), ['gzip', 'br'], 1 << 20, ORIGIN),
    answer,
  );
});

test('an answer that expands past the bound, an unknown coding and a corrupt body are upstream errors', () => {
  const bomb = gzipSync(Buffer.alloc(8 << 20));
  assert.ok(bomb.length < 64 * 1024, 'eight megabytes of zeros compress to kilobytes');
  assert.throws(
    () => decodeContent(bomb, ['gzip'], 1 << 20, ORIGIN),
    (error: unknown) => isUpstreamError(error, 'upstream_response_too_large'),
  );
  assert.throws(
    () => decodeContent(answer, ['zstd'], 1 << 20, ORIGIN),
    (error: unknown) => isUpstreamError(error, 'upstream_invalid_response') && /zstd/.test(error.message),
  );
  assert.throws(
    () => decodeContent(answer, ['gzip'], 1 << 20, ORIGIN),
    (error: unknown) => isUpstreamError(error, 'upstream_invalid_response'),
  );
});
