/**
 * Audio sent to a Gemini model (an OpenAI caller's `input_audio`, which the translate layer
 * sends as `inlineData`) is billed by its length: "Gemini represents each second of audio as 32
 * tokens; for example, one minute of audio is represented as 1,920 tokens"
 * (ai.google.dev/gemini-api/docs/tokens). It was estimated at 0 tokens, so an hour of
 * recordings passed a tokens-per-minute limit or a budget as a few words of text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { audioSeconds, GEMINI_AUDIO_TOKENS_PER_SECOND } from './audio.js';
import { estimateRequestTokens } from './estimate.js';

/** A PCM WAV file of `seconds` of silence (16 kHz, mono, 16-bit), with a LIST chunk before its data. */
function wav(seconds: number): Buffer {
  const byteRate = 16_000 * 2;
  const data = byteRate * seconds;
  const list = Buffer.from('LIST\x0c\x00\x00\x00INFOISFT\x00\x00\x00\x00', 'latin1');
  const b = Buffer.alloc(12 + 24 + list.length + 8 + data);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(b.length - 8, 4);
  b.write('WAVE', 8, 'ascii');
  b.write('fmt ', 12, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(16_000, 24);
  b.writeUInt32LE(byteRate, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  list.copy(b, 36);
  const at = 36 + list.length;
  b.write('data', at, 'ascii');
  b.writeUInt32LE(data, at + 4);
  return b;
}

/** An MP3 of `seconds` at 128 kbps (MPEG-1 Layer III, 44.1 kHz frames), behind an ID3v2 tag. */
function mp3(seconds: number): Buffer {
  const tag = Buffer.alloc(10 + 2000);
  tag.write('ID3', 0, 'ascii');
  tag[3] = 4;
  // Its size, 2000, as a syncsafe integer (7 bits a byte).
  tag[8] = (2000 >> 7) & 0x7f;
  tag[9] = 2000 & 0x7f;
  const frames = Buffer.alloc((128_000 / 8) * seconds);
  for (let at = 0; at + 417 <= frames.length; at += 417) frames.set([0xff, 0xfb, 0x90, 0x64], at);
  return Buffer.concat([tag, frames]);
}

function geminiEstimate(model: string, audio: Buffer, format: string): number {
  const result = estimateRequestTokens({
    dialect: 'openai-chat',
    body: {
      model,
      max_tokens: 10,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Transcribe this.' },
            { type: 'input_audio', input_audio: { data: audio.toString('base64'), format } },
          ],
        },
      ],
    },
  });
  assert.ok(result.ok);
  return result.estimate.inputTokens;
}

describe('audio tokens', () => {
  it('the length of a WAV (its data chunk over its byte rate) and of an MP3 (its bytes over its bitrate)', () => {
    assert.equal(audioSeconds(wav(3).toString('base64')), 3);
    const seconds = audioSeconds(mp3(3).toString('base64'));
    assert.ok(seconds !== null && Math.abs(seconds - 3) < 0.01, `${seconds} s`);
  });

  for (const model of ['gemini-2.5-flash', 'gemini-3-pro-preview']) {
    it(`${model}: a minute of audio is estimated at Gemini's 32 tokens a second, 1,920, not 0`, () => {
      for (const [audio, format] of [
        [wav(60), 'wav'],
        [mp3(60), 'mp3'],
      ] as const) {
        const tokens = geminiEstimate(model, audio, format);
        const billed = 60 * GEMINI_AUDIO_TOKENS_PER_SECOND;
        assert.ok(
          tokens >= billed && tokens < billed + 50,
          `${format}: ${tokens} tokens, Gemini bills ${billed}`,
        );
      }
    });
  }

  it('audio Kordon cannot read is taken by its size at a low bitrate, not as nothing', () => {
    const noise = Buffer.alloc(64_000, 0x55);
    assert.equal(audioSeconds(noise.toString('base64')), null);
    assert.ok(geminiEstimate('gemini-2.5-flash', noise, 'mp3') >= 32 * 30);
  });
});
