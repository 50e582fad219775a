/**
 * Reads the common event of an Anthropic Messages stream, a text delta, without `JSON.parse`.
 *
 * An answer streams one `content_block_delta` every few words, and the gateway reads three
 * things of it: its block index, that its delta is a `text_delta`, and the text. Anthropic
 * sends it in one shape, `{"type":"content_block_delta","index":N,"delta":{"type":"text_delta",
 * "text":"..."}}`, with no spaces; one anchored regular expression reads it in ~0.14 µs against
 * ~0.8 µs for `JSON.parse` here. The frame itself still goes to a same-dialect caller byte for
 * byte (`lastFrameData`).
 *
 * It accepts only that exact text (JSON's own string grammar, no whitespace, no other key), so
 * what it returns is what `JSON.parse` returns for the frame (property tests hold it to that,
 * anthropic-event-skim.unit.test.ts); every other frame is `undefined` and parsed whole.
 */
import { JSON_STRING, jsonStringValue } from './json-text.js';

const TEXT_DELTA = new RegExp(
  String.raw`^\{"type":"content_block_delta","index":(0|[1-9][0-9]{0,8}),"delta":\{"type":"text_delta","text":(${JSON_STRING})\}\}$`,
);

export interface AnthropicTextDelta {
  type: 'content_block_delta';
  index: number;
  delta: { type: 'text_delta'; text: string };
}

/** The text-delta event `data` holds, equal to its `JSON.parse`; undefined: parse it whole. */
export function skimAnthropicEvent(data: string): AnthropicTextDelta | undefined {
  const match = TEXT_DELTA.exec(data);
  if (match === null) return undefined;
  return {
    type: 'content_block_delta',
    index: Number(match[1]),
    delta: { type: 'text_delta', text: jsonStringValue(match[2]!) },
  };
}
