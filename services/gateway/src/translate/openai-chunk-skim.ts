/**
 * Reads the common chunks of an OpenAI chat stream, a one-choice text delta or finish
 * reason, without `JSON.parse`.
 *
 * Most frames of a streamed answer are text deltas of ~250 bytes, and the gateway reads six
 * things of them: the id, the model, the choice's index, its text, its finish reason and the
 * service tier (OpenAI names it on every chunk, and it prices the answer even when the stream
 * breaks before its finish chunk), and needs to know that nothing else is there (no tool
 * call, refusal or usage). Parsing the whole frame makes every field (object, created,
 * fingerprint, logprobs...) only to drop them: ~1.5 µs a frame on the bench machine, 6% of a
 * streamed request's CPU in bench:gateway's profile. One anchored regular expression
 * (compiled to native code by V8) reads the same frame in ~0.3–0.5 µs; capturing the tier
 * adds ~0.1 µs to a frame that names one. The frame itself still goes to a same-dialect
 * caller byte for byte (`lastFrameData`).
 *
 * The expression is the shape OpenAI, vLLM, Ollama, DeepSeek, Groq (its middle chunks) and
 * Mistral send, in their key order: `id`, `object`, `created`, `model`, any scalar fields,
 * `choices` with one choice (`index`, `delta` empty or with an optional `role`, `content` and
 * an optional null `refusal`, an optional null `logprobs`, a `finish_reason` null or one of
 * OpenAI's), any scalar fields after; a `service_tier` at most once on each side of
 * `choices`. It accepts only JSON that `JSON.parse` accepts (each token is JSON's grammar, no
 * whitespace) and only what `plainChunk` accepts, read the same way; every other frame
 * (another order, such as Azure's sorted keys, spaces, a nested value, tool calls, usage, an
 * escaped key that could spell one of these) is `undefined` and parsed whole by the caller.
 * Property tests hold it to that against `JSON.parse` (openai-chunk-skim.unit.test.ts).
 */
import { JSON_STRING, jsonStringValue } from './json-text.js';
import type { OpenAIChatChunk, OpenAIFinishReason } from './openai-chat-types.js';

/** A JSON number (RFC 8259 §6). */
const NUMBER = String.raw`-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?`;
const SCALAR = `(?:${JSON_STRING}|${NUMBER}|null|true|false)`;
/**
 * Another member of the chunk: a null `usage`, or a plain-named key other than the ones read
 * (so none of those can come twice, where `JSON.parse` would keep the last) with a scalar.
 */
const OTHER_MEMBER = `,(?:"usage":null|"(?!usage"|choices"|id"|model"|service_tier")[a-z_]+":${SCALAR})`;
/**
 * The members on one side of `choices`, with at most one `service_tier` among them, captured
 * (a captured group inside a repetition would keep only the last repetition's).
 */
const MEMBERS_AND_TIER = `(?:${OTHER_MEMBER})*(?:,"service_tier":(${SCALAR})(?:${OTHER_MEMBER})*)?`;

const TEXT_DELTA_CHUNK = new RegExp(
  String.raw`^\{"id":(${JSON_STRING}),"object":"chat\.completion\.chunk","created":(?:0|[1-9][0-9]*),"model":(${JSON_STRING})` +
    MEMBERS_AND_TIER +
    String.raw`,"choices":\[\{"index":(0|[1-9][0-9]{0,8}),"delta":\{(?:(?:"role":"assistant",)?"content":(${JSON_STRING})(?:,"refusal":null)?)?\}(?:,"logprobs":null)?,"finish_reason":(null|"(?:stop|length|tool_calls|content_filter|function_call)")\}\]` +
    MEMBERS_AND_TIER +
    '\\}$',
);

/** A chunk as the skim reads it: with the tier it names, when that is a string. */
export type SkimmedOpenAIChunk = OpenAIChatChunk & { service_tier?: string };

/** The text-delta or finish chunk `data` holds, as the stream parser reads it; undefined: parse it whole. */
export function skimOpenAIChunk(data: string): SkimmedOpenAIChunk | undefined {
  const match = TEXT_DELTA_CHUNK.exec(data);
  if (match === null) return undefined;
  const [, id, model, tierBefore, index, content, finish, tierAfter] = match as unknown as [
    string,
    string,
    string,
    string | undefined,
    string,
    string | undefined,
    string,
    string | undefined,
  ];
  const chunk: SkimmedOpenAIChunk = {
    id: jsonStringValue(id),
    model: jsonStringValue(model),
    choices: [
      {
        index: Number(index),
        delta: content === undefined ? {} : { content: jsonStringValue(content) },
        finish_reason: finish === 'null' ? null : (finish.slice(1, -1) as OpenAIFinishReason),
      },
    ],
  };
  // The tier that prices the answer (priority, flex), on every chunk: a stream cut before its
  // finish chunk is priced at it too. The last one counts, as for JSON.parse; a string only,
  // as the parser reads it.
  const tier = tierAfter ?? tierBefore;
  if (tier?.startsWith('"')) chunk.service_tier = jsonStringValue(tier);
  return chunk;
}
