/**
 * An image sent to a Gemini model is estimated by Gemini's rule, not Claude's (w*h)/750: a 64x64
 * image was ~6 tokens where Gemini bills 258, so a request of many small images passed a budget
 * it could not fit. Gemini 2.x: 258 tokens up to 384x384 px, 258 per 768x768 tile above.
 * Gemini 3 and later bill an image at its media resolution whatever its size, HIGH (1,120
 * tokens) when the request names none (Gemini's media-resolution guide, "Token counts"): a
 * small image estimated by the 2.x rule was 258, a quarter of its bill.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimateRequestTokens } from './estimate.js';
import { geminiImageTokens } from './images.js';

/** A PNG header (signature + IHDR) of the given size, base64: enough for the size sniffer. */
function pngDataUrl(width: number, height: number): string {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'ascii');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b[24] = 8;
  b[25] = 6;
  return `data:image/png;base64,${b.toString('base64')}`;
}

const GEMINI_MIN_IMAGE_TOKENS = 258;
const GEMINI_3_DEFAULT_IMAGE_TOKENS = 1120;

describe('Gemini image tokens', () => {
  for (const model of ['gemini-2.5-flash', 'gemini-2.5-pro', 'google/gemini-2.0-flash']) {
    it(`${model}: 20 images of 64x64 are estimated at >= 20 x 258 tokens`, () => {
      const images = Array.from({ length: 20 }, () => ({
        type: 'image_url',
        image_url: { url: pngDataUrl(64, 64) },
      }));
      const result = estimateRequestTokens({
        dialect: 'openai-chat',
        body: {
          model,
          messages: [{ role: 'user', content: [{ type: 'text', text: 'describe' }, ...images] }],
          max_tokens: 10,
        },
      });
      assert.ok(result.ok);
      assert.ok(
        result.estimate.inputTokens >= 20 * GEMINI_MIN_IMAGE_TOKENS,
        `estimated ${result.estimate.inputTokens} input tokens; Gemini bills >= ${20 * GEMINI_MIN_IMAGE_TOKENS}`,
      );
    });
  }

  it('gemini-2.5-flash via an Anthropic caller: one 100x100 image >= 258 tokens', () => {
    const data = pngDataUrl(100, 100).split(',')[1]!;
    const result = estimateRequestTokens({
      dialect: 'anthropic-messages',
      model: 'gemini-2.5-flash',
      body: {
        model: 'gemini-2.5-flash',
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }],
          },
        ],
      },
    });
    assert.ok(result.ok);
    assert.ok(
      result.estimate.inputTokens >= GEMINI_MIN_IMAGE_TOKENS,
      `estimated ${result.estimate.inputTokens}; Gemini bills >= ${GEMINI_MIN_IMAGE_TOKENS}`,
    );
  });

  for (const model of [
    'gemini-3-flash-preview',
    'gemini-3.1-pro-preview',
    'google/gemini-3-pro-preview',
    'gemini-4-pro',
  ]) {
    it(`${model}: a 100x100 image is estimated at what Gemini 3 bills by default (1,120), not 258`, () => {
      const result = estimateRequestTokens({
        dialect: 'openai-chat',
        body: {
          model,
          max_tokens: 10,
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: pngDataUrl(100, 100) } }] },
          ],
        },
      });
      assert.ok(result.ok);
      assert.ok(
        result.estimate.inputTokens >= GEMINI_3_DEFAULT_IMAGE_TOKENS,
        `estimated ${result.estimate.inputTokens} input tokens (exact: ${result.estimate.exact}); Gemini 3 bills ${GEMINI_3_DEFAULT_IMAGE_TOKENS} for the image`,
      );
      assert.ok(result.estimate.approximations.includes('images'));
    });
  }

  it('Gemini 3 via an Anthropic caller: one 100x100 image is 1,120 tokens', () => {
    const data = pngDataUrl(100, 100).split(',')[1]!;
    const result = estimateRequestTokens({
      dialect: 'anthropic-messages',
      body: {
        model: 'gemini-3-flash-preview',
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }],
          },
        ],
      },
    });
    assert.ok(result.ok);
    assert.ok(result.estimate.inputTokens >= GEMINI_3_DEFAULT_IMAGE_TOKENS);
  });

  it('geminiImageTokens: the tile rule for 2.x, the default media resolution from 3 on, the larger for an alias', () => {
    const small = { width: 100, height: 100 };
    const large = { width: 2000, height: 2000 }; // 3 x 3 tiles
    assert.deepEqual(geminiImageTokens('gemini-2.5-flash', small), { tokens: 258, exact: true });
    assert.deepEqual(geminiImageTokens('gemini-2.0-flash-001', large), { tokens: 9 * 258, exact: false });
    assert.deepEqual(geminiImageTokens('gemini-3-flash-preview', small), { tokens: 1120, exact: false });
    assert.deepEqual(geminiImageTokens('models/gemini-3-pro-preview', large), { tokens: 1120, exact: false });
    assert.deepEqual(geminiImageTokens('gemini-3-pro-preview', null), { tokens: 1120, exact: false });
    assert.deepEqual(geminiImageTokens('gemini-flash-latest', small), { tokens: 1120, exact: false });
    assert.deepEqual(geminiImageTokens('gemini-flash-latest', large), { tokens: 9 * 258, exact: false });
  });
});
