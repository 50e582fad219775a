import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { skimAnthropicEvent } from './anthropic-event-skim.js';
import { AnthropicStreamParser } from './anthropic-stream-parser.js';
import { applyChanges, frameChanges } from './testing/frame-changes.js';

// Text deltas as Anthropic streams them (its Messages streaming reference) and as the mock does.
const TEXT_DELTAS = {
  'a word': '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" Hello"}}',
  'a later block': '{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"ok"}}',
  'escapes and other scripts':
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"line\\n\\"quoted\\" \\u00e9 Привет \\ud83d\\udc4b"}}',
  'an empty text': '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}',
} as const;

// Frames the skim leaves to JSON.parse: more than a text delta, or not said its way.
const PARSED_WHOLE = {
  'a tool input delta':
    '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":"}}',
  'a thinking delta':
    '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm"}}',
  message_start:
    '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}',
  message_delta:
    '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}',
  'a ping': '{"type": "ping"}',
  'spaces between tokens':
    '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}}',
  'another key order': '{"index":0,"type":"content_block_delta","delta":{"type":"text_delta","text":"a"}}',
  'an extra key':
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","citations":[]}}',
  'the text twice (JSON.parse keeps the last)':
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","text":"b"}}',
  'a leading zero': '{"type":"content_block_delta","index":01,"delta":{"type":"text_delta","text":"a"}}',
  'a raw line break in the text':
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\nb"}}',
  'an unknown escape':
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\\qb"}}',
  'text after the object':
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}x',
} as const;

describe('skimAnthropicEvent', () => {
  for (const [what, frame] of Object.entries(TEXT_DELTAS)) {
    it(`reads ${what} as JSON.parse would`, () => {
      const skimmed = skimAnthropicEvent(frame);
      assert.ok(skimmed, 'skimmed');
      assert.deepEqual(skimmed, JSON.parse(frame));
    });
  }

  for (const [what, frame] of Object.entries(PARSED_WHOLE)) {
    it(`leaves ${what} to JSON.parse`, () => {
      assert.equal(skimAnthropicEvent(frame), undefined);
    });
  }

  it('gives the stream parser the same parts as the frames parsed whole, over a stream', () => {
    const frames = [
      PARSED_WHOLE.message_start,
      '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
      ...Object.values(TEXT_DELTAS),
      '{"type":"content_block_stop","index":0}',
      PARSED_WHOLE.message_delta,
      '{"type":"message_stop"}',
    ];
    const whole = new AnthropicStreamParser();
    const skimming = new AnthropicStreamParser();
    for (const frame of frames) {
      const parsed = JSON.parse(frame) as unknown;
      assert.deepEqual(skimming.parse(skimAnthropicEvent(frame) ?? parsed), whole.parse(parsed));
    }
    assert.deepEqual(skimming.usage, whole.usage);
  });

  // Any text, including what needs escaping (quotes, backslashes, control characters, lone surrogates).
  const delta = fc.record({
    index: fc.nat({ max: 999_999_999 }),
    text: fc.string({ unit: 'binary', maxLength: 60 }),
  });
  const frameOf = (d: { index: number; text: string }) =>
    JSON.stringify({
      type: 'content_block_delta',
      index: d.index,
      delta: { type: 'text_delta', text: d.text },
    });

  it('reads every text delta, whatever its text, as JSON.parse would', () => {
    fc.assert(
      fc.property(delta, (d) => {
        const frame = frameOf(d);
        const skimmed = skimAnthropicEvent(frame);
        assert.ok(skimmed, frame);
        assert.deepEqual(skimmed, JSON.parse(frame));
      }),
      { numRuns: 3000 },
    );
  });

  it('never reads a changed frame otherwise than JSON.parse (a character dropped, added or replaced)', () => {
    fc.assert(
      fc.property(
        delta,
        frameChanges(['"', '\\', ',', ':', '{', '}', ' ', '\n', '0', '1', 'a', 'u', 'x', '\u0001']),
        (d, changes) => {
          const frame = applyChanges(frameOf(d), changes);
          const skimmed = skimAnthropicEvent(frame);
          if (skimmed === undefined) return;
          let parsed: unknown;
          try {
            parsed = JSON.parse(frame);
          } catch {
            assert.fail(`skimmed a frame JSON.parse refuses: ${frame}`);
          }
          assert.deepEqual(skimmed, parsed, frame);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
