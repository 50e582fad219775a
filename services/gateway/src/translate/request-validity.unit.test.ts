/**
 * Property: any valid caller request, translated for a provider of another dialect, either is
 * refused with a TranslationError (a 400 in the caller's dialect) or is a body that provider
 * accepts (`testing/provider-rules.ts`: the mocks' refusal rules and the documented ones). Never
 * another exception. The conversations keep the pairing the caller's own provider requires, as
 * `tool-pairing.ts` lets through only those.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type AnthropicMessagesRequest, anthropicMessagesRequest } from './anthropic-messages-types.js';
import { type OpenAIChatRequest, openAIChatRequest } from './openai-chat-types.js';
import {
  anthropicToGeminiRequest,
  anthropicToOpenAIRequest,
  openAIToAnthropicRequest,
  openAIToGeminiRequest,
} from './requests.js';
import { claudeRefusal, geminiRefusal, openAIRefusal } from './testing/provider-rules.js';
import { TranslationError } from './translation-error.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk';
const PDF = 'JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==';
/** Gemini models of each thinking kind: budgets, levels (3 Pro's two, 3.1 Pro's three), aliases, none. */
const GEMINI_MODELS = [
  'gemini-2.5-flash',
  'gemini-2.5-pro',
  'gemini-3-pro-preview',
  'gemini-3.1-pro-preview',
  'gemini-3-flash-preview',
  'gemini-flash-latest',
  'gemini-flash-lite-latest',
  'gemini-2.0-flash',
];
const RUNS = { seed: 20261206, numRuns: 1500 };

/** Texts that break translations: empty, whitespace, astral and combining characters, escapes. */
const text = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\n\n',
    '\t',
    'Hi',
    'Sure, ',
    'Paris?',
    '𝄞 é',
    'e\u0301',
    '"quoted" \\ back',
    '\u2028',
  ),
  fc.string({ maxLength: 12 }),
);
/** Texts Claude takes in a block: not empty, not whitespace only (its 400s otherwise). */
const claudeText = text.filter((t) => t.trim() !== '');
const claudeName = fc.stringMatching(/^[a-zA-Z0-9_-]{1,70}$/);
/** Names OpenAI takes: its pattern, at most 64 characters. */
const openAIName = fc.oneof(
  fc.constantFrom('get_weather', 'lookup', 'a'),
  fc.stringMatching(/^[a-zA-Z0-9_-]{1,64}$/),
);
const toolArguments = fc.dictionary(
  fc.string({ maxLength: 6 }),
  fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null)),
  { maxKeys: 3 },
);
const imageUrl = fc.constantFrom(
  `data:image/png;base64,${PNG}`,
  `data:image/jpeg;base64,${PNG}`,
  `data:image/jpg;base64,${PNG}`,
  `data:image/svg+xml;base64,${PNG}`,
  `data:image/png;charset=utf-8;base64,${PNG}`,
  `DATA:IMAGE/PNG;BASE64,${PNG}`,
  `data:;base64,${PNG}`,
  'data:image/png;base64,',
  'data:image/png;base64,@@@',
  `data:image/png,${PNG}`,
  'https://example.com/cat.png',
  'https://example.com/cat',
  'ftp://example.com/cat.png',
);
const schema = { type: 'object', properties: { city: { type: 'string' } } };

// --- OpenAI callers ---------------------------------------------------------------------

const openAIUserMessage = fc.record({
  role: fc.constant('user' as const),
  content: fc.oneof(
    text,
    fc.array(
      fc.oneof(
        text.map((t) => ({ type: 'text' as const, text: t })),
        imageUrl.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
        fc.constantFrom(
          {
            type: 'file' as const,
            file: { file_data: `data:application/pdf;base64,${PDF}`, filename: 'a.pdf' },
          },
          { type: 'file' as const, file: { file_data: `data:application/pdf;base64,${PDF}` } },
          { type: 'input_audio' as const, input_audio: { data: PNG, format: 'wav' } },
        ),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  ),
});
const openAISystemMessage = fc.record({
  role: fc.constantFrom('system' as const, 'developer' as const),
  content: fc.oneof(
    text,
    fc.array(
      text.map((t) => ({ type: 'text' as const, text: t })),
      { minLength: 1, maxLength: 2 },
    ),
  ),
});

/** An assistant turn with its calls (ids unique to the request), then the tool messages answering each. */
function openAIAssistantTurn(turn: number) {
  return fc
    .record({
      content: fc.oneof(
        fc.constant(null),
        text,
        fc.array(
          text.map((t) => ({ type: 'text' as const, text: t })),
          { minLength: 1, maxLength: 2 },
        ),
      ),
      calls: fc.array(fc.record({ name: openAIName, arguments: toolArguments }), { maxLength: 3 }),
      answers: fc.array(
        fc.oneof(
          text,
          fc.array(
            text.map((t) => ({ type: 'text' as const, text: t })),
            { minLength: 1, maxLength: 2 },
          ),
        ),
        {
          minLength: 3,
          maxLength: 3,
        },
      ),
      order: fc.shuffledSubarray([0, 1, 2], { minLength: 3 }),
      // Kimi's ids hold characters Claude refuses; some servers number calls anew each turn, or
      // give every call of a turn one id (GPT takes both).
      ids: fc.constantFrom('unique', 'unique', 'unique', 'kimi', 'kimi', 'per-turn', 'shared'),
    })
    .map(({ content, calls, answers, order, ids: idKind }) => {
      const ids = calls.map((call, i) =>
        idKind === 'kimi'
          ? `functions.${call.name}:${turn}${i}`
          : idKind === 'per-turn'
            ? `call_${i}`
            : idKind === 'shared'
              ? `call_${turn}`
              : `call_${turn}_${i}`,
      );
      const assistant = {
        role: 'assistant' as const,
        content: calls.length === 0 && content === null ? 'ok' : content,
        ...(calls.length > 0
          ? {
              tool_calls: calls.map((call, i) => ({
                id: ids[i] as string,
                type: 'function' as const,
                function: { name: call.name, arguments: JSON.stringify(call.arguments) },
              })),
            }
          : {}),
      };
      const tools = order
        .filter((i) => i < calls.length && ids.indexOf(ids[i] as string) === i)
        .map((i) => ({ role: 'tool' as const, tool_call_id: ids[i] as string, content: answers[i] ?? '' }));
      return [assistant, ...tools];
    });
}

const openAIConversation = fc
  .array(
    fc.oneof(
      openAIUserMessage.map((m) => [m]),
      openAISystemMessage.map((m) => [m]),
      fc.constant('assistant' as const),
    ),
    { minLength: 1, maxLength: 7 },
  )
  .chain((steps) =>
    fc.tuple(
      ...steps.map((step, turn) => (step === 'assistant' ? openAIAssistantTurn(turn) : fc.constant(step))),
    ),
  )
  .map((steps) => steps.flat());

/** A tool choice, naming one of the tools offered more often than not. */
function openAIToolChoice(names: readonly string[]) {
  if (names.length === 0) return fc.constantFrom('none', 'auto', 'required');
  return fc.oneof(
    fc.constantFrom('none', 'auto', 'required'),
    fc.oneof({ arbitrary: fc.constantFrom(...names), weight: 4 }, openAIName).map((name) => ({
      type: 'function' as const,
      function: { name },
    })),
  );
}

/** Stop sequences, blank ones (which Claude refuses) now and then. */
const stopSequence = fc.oneof({ arbitrary: text.filter((t) => t.trim() !== ''), weight: 9 }, text);

const openAITools = fc.uniqueArray(
  fc.record({
    type: fc.constant('function' as const),
    function: fc.record({ name: openAIName, parameters: fc.constant(schema) }),
  }),
  { maxLength: 3, selector: (tool) => tool.function.name },
);

function openAIRequest(models: readonly string[]) {
  return openAITools
    .chain((tools) =>
      fc.record(
        {
          model: fc.constantFrom(...models),
          messages: openAIConversation,
          tools: fc.constant(tools),
          tool_choice: openAIToolChoice(tools.map((tool) => tool.function.name)),
          parallel_tool_calls: fc.boolean(),
          response_format: fc.constantFrom(
            { type: 'text' as const },
            { type: 'json_object' as const },
            { type: 'json_schema' as const, json_schema: { name: 'out', schema } },
          ),
          stop: fc.oneof(stopSequence, fc.array(stopSequence, { maxLength: 6 })),
          n: fc.constantFrom(1, 1, 1, 1, 1, 1, 1, 1, 1, 2),
          max_tokens: fc.integer({ min: 1, max: 200_000 }),
          max_completion_tokens: fc.integer({ min: 1, max: 200_000 }),
          reasoning_effort: fc.constantFrom('none', 'minimal', 'low', 'medium', 'high'),
          temperature: fc.double({ min: 0, max: 2, noNaN: true }),
          // End users' emails and phone numbers, which OpenAI takes and Claude refuses.
          user: fc.oneof(
            fc.constantFrom('ann@example.com', '+1 (555) 010-9999'),
            fc.string({ maxLength: 300 }),
          ),
        },
        { requiredKeys: ['model', 'messages'] },
      ),
    )
    .map((request) => openAIChatRequest.parse(request));
}

// --- Anthropic callers ------------------------------------------------------------------

const anthropicTextBlock = claudeText.map((t) => ({ type: 'text' as const, text: t }));
const anthropicImageBlock = fc.constantFrom(
  { type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png', data: PNG } },
  { type: 'image' as const, source: { type: 'url' as const, url: 'https://example.com/cat.png' } },
);
const anthropicDocumentBlock = fc.oneof(
  fc.record(
    {
      type: fc.constant('document' as const),
      source: fc.constantFrom(
        { type: 'base64' as const, media_type: 'application/pdf', data: PDF },
        { type: 'text' as const, media_type: 'text/plain', data: 'Plain text.' },
      ),
      title: claudeText,
      context: claudeText,
    },
    { requiredKeys: ['type', 'source'] },
  ),
  fc.record({
    type: fc.constant('search_result' as const),
    source: fc.constant('https://example.com/a'),
    title: claudeText,
    content: fc.array(anthropicTextBlock, { minLength: 1, maxLength: 2 }),
  }),
);
const anthropicUserBlocks = fc.array(
  fc.oneof(anthropicTextBlock, anthropicImageBlock, anthropicDocumentBlock),
  {
    minLength: 1,
    maxLength: 3,
  },
);

/** An assistant turn with its calls (ids unique), then a user turn answering each, in any order, with more blocks after. */
function anthropicAssistantTurn(turn: number, names: fc.Arbitrary<string>) {
  return fc
    .record({
      before: fc.array(
        fc.oneof(
          anthropicTextBlock,
          fc.constant({ type: 'thinking' as const, thinking: 'hm', signature: 'sig' }),
        ),
        {
          maxLength: 2,
        },
      ),
      calls: fc.array(fc.record({ name: names, input: toolArguments }), { maxLength: 3 }),
      results: fc.array(
        fc.record({
          content: fc.oneof(
            fc.constant(undefined),
            text,
            fc.array(fc.oneof(anthropicTextBlock, anthropicImageBlock, anthropicDocumentBlock), {
              maxLength: 2,
            }),
          ),
          is_error: fc.boolean(),
        }),
        { minLength: 3, maxLength: 3 },
      ),
      order: fc.shuffledSubarray([0, 1, 2], { minLength: 3 }),
      after: fc.array(fc.oneof(anthropicTextBlock, anthropicImageBlock), { maxLength: 3 }),
      split: fc.boolean(),
    })
    .map(({ before, calls, results, order, after, split }) => {
      const ids = calls.map((_, i) => `toolu_${turn}_${i}`);
      const assistant = {
        role: 'assistant' as const,
        content: [
          ...before,
          // Claude answers no assistant turn of thinking alone.
          ...(calls.length === 0 && !before.some((block) => block.type === 'text')
            ? [{ type: 'text' as const, text: 'ok' }]
            : []),
          ...calls.map((call, i) => ({
            type: 'tool_use' as const,
            id: ids[i] as string,
            name: call.name,
            input: call.input,
          })),
        ],
      };
      if (calls.length === 0) return [assistant];
      const answers = order
        .filter((i) => i < calls.length)
        .map((i) => ({
          type: 'tool_result' as const,
          tool_use_id: ids[i] as string,
          ...(results[i]?.content !== undefined ? { content: results[i]?.content } : {}),
          ...(results[i]?.is_error ? { is_error: true } : {}),
        }));
      // Claude reads consecutive user turns as one: the results may be split over two.
      return split
        ? [
            assistant,
            { role: 'user' as const, content: answers },
            { role: 'user' as const, content: after.length > 0 ? after : 'and?' },
          ]
        : [assistant, { role: 'user' as const, content: [...answers, ...after] }];
    });
}

function anthropicConversation(names: fc.Arbitrary<string>) {
  return fc
    .array(fc.constantFrom('user' as const, 'assistant' as const, 'user-string' as const), {
      minLength: 1,
      maxLength: 7,
    })
    .chain((steps) =>
      fc.tuple(
        ...steps.map((step, turn) =>
          step === 'assistant'
            ? anthropicAssistantTurn(turn, names)
            : step === 'user'
              ? anthropicUserBlocks.map((content) => [{ role: 'user' as const, content }])
              : claudeText.map((content) => [{ role: 'user' as const, content }]),
        ),
      ),
    )
    .map((steps) => steps.flat());
}

function anthropicRequest(models: readonly string[]) {
  return fc
    .constantFrom(...models)
    .chain((model) => {
      const names = fc.oneof(fc.constantFrom('get_weather', 'mcp__server__tool'), claudeName);
      const tools = fc.uniqueArray(fc.record({ name: names, input_schema: fc.constant(schema) }), {
        maxLength: 3,
        selector: (tool) => tool.name,
      });
      return tools.chain((offered) => {
        const chosen =
          offered.length > 0 ? fc.oneof(fc.constantFrom(...offered.map((tool) => tool.name)), names) : names;
        return fc.record(
          {
            model: fc.constant(model),
            max_tokens: fc.integer({ min: 1, max: 200_000 }),
            messages: anthropicConversation(names),
            system: fc.oneof(text, fc.array(anthropicTextBlock, { maxLength: 3 })),
            tools: fc.constant(offered),
            tool_choice: fc.oneof(
              fc.constantFrom({ type: 'auto' as const }, { type: 'any' as const }, { type: 'none' as const }),
              fc.record({
                type: fc.constant('tool' as const),
                name: chosen,
                disable_parallel_tool_use: fc.boolean(),
              }),
            ),
            stop_sequences: fc.array(claudeText, { maxLength: 6 }),
            thinking: fc.oneof(
              fc.constant({ type: 'disabled' }),
              fc.constant({ type: 'adaptive' }),
              fc
                .integer({ min: 1024, max: 40_000 })
                .map((budget_tokens) => ({ type: 'enabled', budget_tokens })),
            ),
            temperature: fc.double({ min: 0, max: 1, noNaN: true }),
            output_config: fc.record({ effort: fc.constantFrom('low', 'medium', 'high', 'xhigh', 'max') }),
            // Claude Code sends a JSON of ~150 characters; Anthropic takes 256, OpenAI 64.
            metadata: fc.record({ user_id: fc.string({ maxLength: 256 }) }),
          },
          { requiredKeys: ['model', 'max_tokens', 'messages'] },
        );
      });
    })
    .map((request) => anthropicMessagesRequest.parse(request));
}

/** The translation, or the TranslationError it threw; any other exception fails the property. */
function translated<T>(translate: () => T): T | TranslationError {
  try {
    return translate();
  } catch (error) {
    if (error instanceof TranslationError) return error;
    throw error;
  }
}

/**
 * Checks one translation, and counts the bodies checked: a property whose inputs were all
 * refused would check nothing, so each test asks for at least a quarter of its runs accepted.
 */
function checker<T>(refusal: (body: T, model: string) => string | undefined) {
  let checked = 0;
  return {
    check(body: T | TranslationError, model: string): void {
      if (body instanceof TranslationError) return;
      checked++;
      assert.equal(refusal(body, model), undefined, JSON.stringify(body));
    },
    assertEnoughChecked(): void {
      assert.ok(
        checked >= RUNS.numRuns / 4,
        `only ${checked} of ${RUNS.numRuns} translations were not refused`,
      );
    },
  };
}

describe('OpenAI-SDK requests, translated (property)', () => {
  it('for Claude: refused with a TranslationError or accepted by Claude', () => {
    const claude = checker(claudeRefusal);
    fc.assert(
      fc.property(
        openAIRequest(['claude-sonnet-4-5', 'claude-3-5-haiku-latest', 'claude-opus-4-7']),
        (request: OpenAIChatRequest) => {
          claude.check(
            translated(() => openAIToAnthropicRequest(request)),
            request.model,
          );
        },
      ),
      RUNS,
    );
    claude.assertEnoughChecked();
  });

  it('for Gemini: refused with a TranslationError or accepted by Gemini', () => {
    const gemini = checker(geminiRefusal);
    fc.assert(
      fc.property(openAIRequest(GEMINI_MODELS), (request: OpenAIChatRequest) => {
        gemini.check(
          translated(() => openAIToGeminiRequest(request)),
          request.model,
        );
      }),
      RUNS,
    );
    gemini.assertEnoughChecked();
  });
});

describe('Anthropic-SDK requests, translated (property)', () => {
  it('for GPT: refused with a TranslationError or accepted by OpenAI', () => {
    const openAI = checker(openAIRefusal);
    fc.assert(
      fc.property(
        anthropicRequest(['gpt-4.1', 'gpt-5', 'o3', 'deepseek-chat']),
        (request: AnthropicMessagesRequest) => {
          openAI.check(
            translated(() => anthropicToOpenAIRequest(request)),
            request.model,
          );
        },
      ),
      RUNS,
    );
    openAI.assertEnoughChecked();
  });

  it('for Gemini: refused with a TranslationError or accepted by Gemini', () => {
    const gemini = checker(geminiRefusal);
    fc.assert(
      fc.property(anthropicRequest(GEMINI_MODELS), (request: AnthropicMessagesRequest) => {
        gemini.check(
          translated(() => anthropicToGeminiRequest(request)),
          request.model,
        );
      }),
      RUNS,
    );
    gemini.assertEnoughChecked();
  });
});
