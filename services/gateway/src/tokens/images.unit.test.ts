import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  anthropicImageTokens,
  imageSizeFromBase64,
  imageSizeFromDataUrl,
  openAiImageTokens,
  sniffImageSize,
} from './images.js';
import { estimateRequestTokens } from './index.js';

const CLAUDE = 'claude-sonnet-4-5';

describe('OpenAI image tokens', () => {
  test("the images guide's own examples (gpt-4o): 1024x1024 high 765, 2048x4096 high 1105, 4096x8192 low 85", () => {
    assert.deepEqual(openAiImageTokens('gpt-4o', 'high', { width: 1024, height: 1024 }), {
      tokens: 765,
      exact: true,
    });
    assert.deepEqual(openAiImageTokens('gpt-4o', 'high', { width: 2048, height: 4096 }), {
      tokens: 1105,
      exact: true,
    });
    assert.deepEqual(openAiImageTokens('gpt-4o', 'low', { width: 4096, height: 8192 }), {
      tokens: 85,
      exact: true,
    });
  });

  test('detail auto or absent is counted as high', () => {
    assert.equal(openAiImageTokens('gpt-4o', 'auto', { width: 1024, height: 1024 }).tokens, 765);
    assert.equal(openAiImageTokens('gpt-4o', undefined, { width: 1024, height: 1024 }).tokens, 765);
  });

  test('small images are not scaled up: 512x512 is one tile', () => {
    assert.equal(openAiImageTokens('gpt-4.1', 'high', { width: 512, height: 512 }).tokens, 85 + 170);
  });

  test('per-model base and tile tokens', () => {
    const size = { width: 1024, height: 1024 }; // 4 tiles
    assert.equal(openAiImageTokens('gpt-4o-mini', 'high', size).tokens, 2833 + 5667 * 4);
    assert.equal(openAiImageTokens('gpt-5', 'high', size).tokens, 70 + 140 * 4);
    assert.equal(openAiImageTokens('o3-2025-04-16', 'high', size).tokens, 75 + 150 * 4);
    assert.equal(openAiImageTokens('computer-use-preview', 'high', size).tokens, 65 + 129 * 4);
  });

  test("patch models: the guide's 1024x1024 (1024 patches) and 1800x2400 (1452 patches) examples", () => {
    assert.deepEqual(openAiImageTokens('gpt-4.1-mini', 'high', { width: 1024, height: 1024 }), {
      tokens: Math.ceil(1024 * 1.62),
      exact: true,
    });
    assert.equal(
      openAiImageTokens('gpt-4.1-nano', 'high', { width: 1800, height: 2400 }).tokens,
      Math.ceil(1452 * 2.46),
    );
    assert.equal(
      openAiImageTokens('o4-mini', 'low', { width: 1800, height: 2400 }).tokens,
      Math.ceil(1452 * 1.72),
    );
  });

  test('unknown size: the ceiling of the rule, flagged as an estimate', () => {
    assert.deepEqual(openAiImageTokens('gpt-4o', 'high', null), { tokens: 85 + 170 * 8, exact: false });
    assert.deepEqual(openAiImageTokens('gpt-4o', 'low', null), { tokens: 85, exact: true });
    assert.deepEqual(openAiImageTokens('gpt-5-mini', undefined, null), {
      tokens: Math.ceil(1536 * 1.62),
      exact: false,
    });
  });

  test('a model without a published rule gets the gpt-4o rule, flagged', () => {
    assert.deepEqual(openAiImageTokens('gpt-5.4', 'high', { width: 1024, height: 1024 }), {
      tokens: 765,
      exact: false,
    });
  });
});

describe('Anthropic image tokens', () => {
  test('width x height / 750: 1000x1000 is 1334, 1092x1092 is 1590 (the table in the vision guide)', () => {
    assert.deepEqual(anthropicImageTokens(CLAUDE, { width: 1000, height: 1000 }), {
      tokens: 1334,
      exact: true,
    });
    assert.equal(anthropicImageTokens(CLAUDE, { width: 1092, height: 1092 }).tokens, 1590);
    assert.equal(anthropicImageTokens(CLAUDE, { width: 200, height: 200 }).tokens, 54);
  });

  test('large images are resized: never more than 1600 tokens', () => {
    assert.equal(anthropicImageTokens(CLAUDE, { width: 4000, height: 3000 }).tokens, 1600);
  });

  test('unknown size: 1600, flagged', () => {
    assert.deepEqual(anthropicImageTokens(CLAUDE, null), { tokens: 1600, exact: false });
  });

  test('claude-opus-4-7 reads up to 2576px on the long edge, 4784 tokens; its ceiling for an unknown size', () => {
    // 2576x1456 is Opus 4.7's largest image: 92 x 52 patches of 28px, 4784 tokens.
    assert.equal(anthropicImageTokens('claude-opus-4-7', { width: 2576, height: 1456 }).tokens, 4784);
    assert.equal(anthropicImageTokens('claude-opus-4-7', { width: 1568, height: 1568 }).tokens, 3279);
    assert.equal(anthropicImageTokens('claude-opus-4-7', { width: 8000, height: 6000 }).tokens, 4784);
    assert.deepEqual(anthropicImageTokens('claude-opus-4-7', null), { tokens: 4784, exact: false });
    // The same model by its dated, Bedrock and Vertex names; the older models keep their rule.
    for (const model of [
      'claude-opus-4-7-20260416',
      'anthropic/claude-opus-4-7',
      'us.anthropic.claude-opus-4-7-v1:0',
      'claude-opus-4-7@20260416',
    ])
      assert.equal(anthropicImageTokens(model, null).tokens, 4784, model);
    for (const model of [
      'claude-opus-4-6',
      'claude-sonnet-4-6',
      'claude-sonnet-4-5',
      'claude-opus-4-1',
      'claude-opus-4',
    ])
      assert.equal(anthropicImageTokens(model, { width: 2576, height: 1456 }).tokens, 1600, model);
  });

  /*
   * Anthropic's vision guide: "Claude Opus 5, Claude Sonnet 5, Claude Opus 4.8, and Claude Opus 4.7
   * accept up to 2576 pixels on the long edge", 4,784 visual tokens ("Claude Opus 4.7 and later").
   * Only Opus 4.7 was given that tier: a large image (or one by URL, or a PDF page) sent to Opus
   * 4.8 or a Claude 5 model was held at 1,600 tokens, a third of its cost.
   */
  test('Opus 4.8 and every Claude 5 model read images at the high resolution too', () => {
    for (const model of [
      'claude-opus-4-8',
      'claude-opus-5',
      'claude-sonnet-5',
      'claude-sonnet-5-5',
      'anthropic/claude-opus-4.8',
      'us.anthropic.claude-opus-5-v1:0',
      'claude-sonnet-5@20260801',
    ]) {
      assert.deepEqual(anthropicImageTokens(model, null), { tokens: 4784, exact: false }, model);
      assert.equal(anthropicImageTokens(model, { width: 2000, height: 1500 }).tokens, 4000, model);
    }
  });

  test('a request to claude-opus-4-7 reserves what its images cost, inline or by URL', () => {
    const inputTokens = (source: Record<string, unknown>): number => {
      const body = {
        model: 'claude-opus-4-7',
        max_tokens: 16,
        messages: [{ role: 'user', content: [{ type: 'image', source }] }],
      };
      const estimate = estimateRequestTokens({
        dialect: 'anthropic-messages',
        body,
        model: 'claude-opus-4-7',
      });
      assert.ok(estimate.ok, JSON.stringify(estimate));
      return estimate.estimate.inputTokens;
    };
    const data = pngHeader(2576, 1456).toString('base64');
    assert.ok(inputTokens({ type: 'base64', media_type: 'image/png', data }) >= 4784);
    assert.ok(inputTokens({ type: 'url', url: 'https://example.com/screenshot.png' }) >= 4784);
  });
});

/** Image headers built by hand: only the bytes the sniffer reads. */
function pngHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'ascii');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}

function jpegHeader(width: number, height: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const exifPadding = Buffer.concat([Buffer.from([0xff, 0xe1, 0x04, 0x02]), Buffer.alloc(0x0400)]);
  const sof = Buffer.alloc(19);
  sof.writeUInt16BE(0xffc0, 0);
  sof.writeUInt16BE(17, 2);
  sof.writeUInt8(8, 4);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, exifPadding, sof, Buffer.alloc(16)]);
}

function webpHeader(kind: 'VP8X' | 'VP8L' | 'VP8 ', width: number, height: number): Buffer {
  const b = Buffer.alloc(40);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(32, 4);
  b.write('WEBP', 8, 'ascii');
  b.write(kind, 12, 'ascii');
  if (kind === 'VP8X') {
    b.writeUIntLE(width - 1, 24, 3);
    b.writeUIntLE(height - 1, 27, 3);
  } else if (kind === 'VP8L') {
    b.writeUInt8(0x2f, 20);
    b.writeUInt32LE(((width - 1) | ((height - 1) << 14)) >>> 0, 21);
  } else {
    b.set([0x9d, 0x01, 0x2a], 23);
    b.writeUInt16LE(width, 26);
    b.writeUInt16LE(height, 28);
  }
  return b;
}

describe('reading sizes of inline images', () => {
  test('PNG, GIF, JPEG (after an EXIF segment), WebP (VP8X, VP8L, VP8)', () => {
    assert.deepEqual(sniffImageSize(pngHeader(1920, 1080)), { width: 1920, height: 1080 });
    const gif = Buffer.from([...Buffer.from('GIF89a'), 0x40, 0x01, 0xf0, 0x00, 0, 0]);
    assert.deepEqual(sniffImageSize(gif), { width: 320, height: 240 });
    assert.deepEqual(sniffImageSize(jpegHeader(4032, 3024)), { width: 4032, height: 3024 });
    assert.deepEqual(sniffImageSize(webpHeader('VP8X', 3000, 2000)), { width: 3000, height: 2000 });
    assert.deepEqual(sniffImageSize(webpHeader('VP8L', 1024, 768)), { width: 1024, height: 768 });
    assert.deepEqual(sniffImageSize(webpHeader('VP8 ', 640, 480)), { width: 640, height: 480 });
  });

  test('anything else is unknown, not an error', () => {
    assert.equal(sniffImageSize(Buffer.from('not an image at all, not even close')), null);
    assert.equal(sniffImageSize(new Uint8Array(0)), null);
    assert.equal(sniffImageSize(Buffer.from([0xff, 0xd8, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0])), null);
  });

  test('from base64 data and data URLs; http URLs have no size', () => {
    const jpeg = jpegHeader(800, 600).toString('base64');
    assert.deepEqual(imageSizeFromBase64(jpeg), { width: 800, height: 600 });
    assert.deepEqual(imageSizeFromDataUrl(`data:image/png;base64,${pngHeader(64, 32).toString('base64')}`), {
      width: 64,
      height: 32,
    });
    // The scheme and `base64` are case-insensitive (RFC 2397), as the translators read them.
    assert.deepEqual(imageSizeFromDataUrl(`DATA:image/png;BASE64,${pngHeader(64, 32).toString('base64')}`), {
      width: 64,
      height: 32,
    });
    assert.equal(imageSizeFromDataUrl('https://example.test/cat.png'), null);
    assert.equal(imageSizeFromDataUrl('data:image/svg+xml,<svg/>'), null);
  });
});
