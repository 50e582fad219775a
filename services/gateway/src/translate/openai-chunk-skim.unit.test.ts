import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { skimOpenAIChunk } from './openai-chunk-skim.js';
import { OpenAIStreamParser, plainChunk } from './openai-stream-parser.js';
import { applyChanges, frameChanges } from './testing/frame-changes.js';

/** What the stream parser reads of a frame parsed whole: the skim must answer exactly this. */
function readWhole(data: string) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  const chunk = plainChunk(parsed);
  if (!chunk) return undefined;
  return {
    id: chunk.id,
    model: chunk.model,
    choices: chunk.choices.map((choice) => ({
      index: choice.index,
      delta:
        choice.delta == null
          ? null
          : choice.delta.content === undefined
            ? {}
            : { content: choice.delta.content },
      finish_reason: choice.finish_reason ?? null,
    })),
    ...(chunk.usage != null ? { usage: chunk.usage } : {}),
    // The parser reads the tier off the event, a string only.
    ...(typeof (parsed as { service_tier?: unknown }).service_tier === 'string'
      ? { service_tier: (parsed as { service_tier: string }).service_tier }
      : {}),
  };
}

// Text deltas in the shapes these vendors stream, key order as sent (Ollama's checked against a
// captured stream in public code; the others written after the vendors' published examples).
const VENDOR_TEXT_DELTAS = {
  'the mock (first chunk)':
    '{"id":"chatcmpl-mock000006","object":"chat.completion.chunk","created":1796120410,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_mock","usage":null,"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}',
  'the mock':
    '{"id":"chatcmpl-mock000006","object":"chat.completion.chunk","created":1796120410,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_mock","usage":null,"choices":[{"index":0,"delta":{"content":" reply:"},"logprobs":null,"finish_reason":null}]}',
  'OpenAI (usage asked, obfuscation)':
    '{"id":"chatcmpl-C9x2","object":"chat.completion.chunk","created":1756000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"Zq3"}',
  vLLM: '{"id":"chatcmpl-9f1","object":"chat.completion.chunk","created":1733000000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}]}',
  Ollama:
    '{"id":"chatcmpl-52","object":"chat.completion.chunk","created":1733000000,"model":"llama3.2","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"The"},"finish_reason":null}]}',
  'DeepSeek (escapes)':
    '{"id":"5f6c","object":"chat.completion.chunk","created":1733000000,"model":"deepseek-chat","system_fingerprint":"fp_3a5770e1b4_prod0225","choices":[{"index":0,"delta":{"content":"line\\n\\"quoted\\" \\u00e9 \\ud83d\\udc4b"},"logprobs":null,"finish_reason":null}]}',
  'vLLM (finish reason)':
    '{"id":"chatcmpl-9f1","object":"chat.completion.chunk","created":1733000000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}',
  Mistral:
    '{"id":"cmpl-e5cc","object":"chat.completion.chunk","created":1702256327,"model":"mistral-small-latest","choices":[{"index":0,"delta":{"content":"Привет"},"finish_reason":null}]}',
  'the mock (finish reason, naming its service tier)':
    '{"id":"chatcmpl-mock000006","object":"chat.completion.chunk","created":1796120410,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_mock","usage":null,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}',
  'OpenAI (a finish reason after a tool call, naming its service tier)':
    '{"id":"chatcmpl-C9x2","object":"chat.completion.chunk","created":1756000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"priority","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null,"obfuscation":"P"}',
  'OpenAI (priority)':
    '{"id":"chatcmpl-C9x3","object":"chat.completion.chunk","created":1756000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"priority","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"content":"lorem"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"Q2"}',
  'Groq (its tier after the choices)':
    '{"id":"chatcmpl-g1","object":"chat.completion.chunk","created":1756000000,"model":"openai/gpt-oss-120b","system_fingerprint":"fp_g","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"service_tier":"flex"}',
  'the service tier twice (JSON.parse keeps the last)':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"priority","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}],"service_tier":"flex"}',
  'a service tier that is not a string':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":null,"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}',
  'a text that spells the service tier key':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"\\"service_tier\\":\\"priority\\""},"finish_reason":null}]}',
} as const;

// Frames the skim leaves to JSON.parse: what they say is more than a text delta, or not said its way.
const PARSED_WHOLE = {
  'a tool call':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]},"logprobs":null,"finish_reason":null}]}',
  'an unknown finish reason':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"eos"}]}',
  'the usage chunk':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":16,"completion_tokens":13,"total_tokens":29}}',
  'a reasoning delta (content null)':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"Hmm"},"logprobs":null,"finish_reason":null}]}',
  'a refusal':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":null,"refusal":"I can\'t"},"logprobs":null,"finish_reason":null}]}',
  "Azure's content filter results":
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"},"content_filter_results":{},"finish_reason":null}]}',
  'two choices':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null},{"index":1,"delta":{"content":"b"},"finish_reason":null}]}',
  'spaces between tokens':
    '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": null}]}',
  'another key order':
    '{"object":"chat.completion.chunk","id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}',
  'an escaped key spelling "content"':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a","con\\u0074ent":"b"},"finish_reason":null}]}',
  'the service tier twice on one side of the choices':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"flex","service_tier":"priority","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}',
  'the id twice (JSON.parse keeps the last)':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","id":"c2","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}',
  'a trailing comma':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}],}',
  'a raw line break in a string':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a\nb"},"finish_reason":null}]}',
  'an unknown escape':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a\\qb"},"finish_reason":null}]}',
  'a leading zero':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":00,"delta":{"content":"a"},"finish_reason":null}]}',
  'text after the object':
    '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}x',
  '[DONE]': '[DONE]',
} as const;

describe('skimOpenAIChunk', () => {
  for (const [vendor, frame] of Object.entries(VENDOR_TEXT_DELTAS)) {
    it(`reads a text delta as ${vendor} sends it, as JSON.parse would`, () => {
      const skimmed = skimOpenAIChunk(frame);
      assert.ok(skimmed, 'skimmed');
      assert.deepEqual(skimmed, readWhole(frame));
    });
  }

  for (const [what, frame] of Object.entries(PARSED_WHOLE)) {
    it(`leaves ${what} to JSON.parse`, () => {
      assert.equal(skimOpenAIChunk(frame), undefined);
    });
  }

  it('gives the stream parser the same parts as the frames parsed whole, over a stream', () => {
    const frames = [
      ...Object.values(VENDOR_TEXT_DELTAS),
      VENDOR_TEXT_DELTAS['OpenAI (a finish reason after a tool call, naming its service tier)'],
      PARSED_WHOLE['the usage chunk'],
      '[DONE]',
    ];
    const whole = new OpenAIStreamParser();
    const skimming = new OpenAIStreamParser();
    for (const frame of frames) {
      const parsed = frame === '[DONE]' ? frame : JSON.parse(frame);
      assert.deepEqual(skimming.parse(skimOpenAIChunk(frame) ?? parsed), whole.parse(parsed));
    }
    assert.equal(skimming.usage?.serviceTier, 'priority');
    assert.deepEqual(skimming.usage, whole.usage);
  });

  it('gives the stream parser the tier of text deltas, for a stream cut before its finish chunk', () => {
    const parser = new OpenAIStreamParser();
    parser.parse(skimOpenAIChunk(VENDOR_TEXT_DELTAS['OpenAI (priority)']));
    assert.equal(parser.serviceTier, 'priority');
  });

  // Any text, including what needs escaping (quotes, backslashes, control characters, lone surrogates).
  const anyText = fc.string({ unit: 'binary', maxLength: 40 });
  const scalar = fc.oneof(
    anyText,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
  );
  const plainKey = fc
    .stringMatching(/^[a-z_]{1,12}$/)
    .filter((key) => !['id', 'model', 'choices', 'usage'].includes(key));
  const extraMembers = fc.oneof(
    fc.dictionary(plainKey, scalar, { maxKeys: 4 }),
    // The tier OpenAI names on every chunk, a string (a tier's name or any text) or another scalar.
    fc.record({
      service_tier: fc.oneof(fc.constantFrom('default', 'priority', 'flex', 'fast'), scalar),
    }),
  );
  const textDelta = fc.record({
    id: anyText,
    created: fc.nat(),
    model: anyText,
    before: extraMembers,
    index: fc.nat({ max: 999_999_999 }),
    role: fc.boolean(),
    content: fc.option(anyText, { nil: undefined }),
    finish: fc.constantFrom(null, 'stop', 'length', 'tool_calls', 'content_filter', 'function_call'),
    refusal: fc.boolean(),
    logprobs: fc.boolean(),
    after: extraMembers,
  });
  const frameOf = (d: typeof textDelta extends fc.Arbitrary<infer T> ? T : never) =>
    JSON.stringify({
      id: d.id,
      object: 'chat.completion.chunk',
      created: d.created,
      model: d.model,
      ...d.before,
      choices: [
        {
          index: d.index,
          // No text: an empty delta (a finish chunk's).
          delta:
            d.content === undefined
              ? {}
              : {
                  ...(d.role ? { role: 'assistant' } : {}),
                  content: d.content,
                  ...(d.refusal ? { refusal: null } : {}),
                },
          ...(d.logprobs ? { logprobs: null } : {}),
          finish_reason: d.finish,
        },
      ],
      ...d.after,
    });

  it('reads every text delta or finish of that shape, whatever its text and scalar fields, as JSON.parse would', () => {
    fc.assert(
      fc.property(textDelta, (delta) => {
        const frame = frameOf(delta);
        const skimmed = skimOpenAIChunk(frame);
        assert.ok(skimmed, frame);
        assert.deepEqual(skimmed, readWhole(frame));
      }),
      { numRuns: 2000 },
    );
  });

  it('never reads a changed frame otherwise than JSON.parse (a character dropped, added or replaced)', () => {
    fc.assert(
      fc.property(
        textDelta,
        frameChanges(['"', '\\', ',', ':', '{', '}', '[', ']', ' ', '\n', '0', 'a', 'u', 'n', '\u0001']),
        (delta, changes) => {
          const frame = applyChanges(frameOf(delta), changes);
          const skimmed = skimOpenAIChunk(frame);
          if (skimmed !== undefined) assert.deepEqual(skimmed, readWhole(frame), frame);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
