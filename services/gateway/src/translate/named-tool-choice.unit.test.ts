/**
 * A tool choice naming a tool the request does not declare, translated for another dialect's
 * provider: refused before any call, in the words of the caller's provider (OpenAI's, with
 * param `tool_choice`; Claude's). A name that does match goes on as before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anthropicMessagesRequest } from './anthropic-messages-types.js';
import { openAIChatRequest } from './openai-chat-types.js';
import { toolChoiceAndOffer } from './openai-tool-choice.js';
import {
  anthropicToGeminiRequest,
  anthropicToOpenAIRequest,
  openAIToAnthropicRequest,
  openAIToGeminiRequest,
} from './requests.js';
import { TranslationError } from './translation-error.js';

const weather = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
const user = (content: string) => ({ role: 'user', content });
const openAITools = ['get_weather', 'get_time'].map((name) => ({
  type: 'function',
  function: { name, parameters: weather },
}));
const anthropicTools = ['get_weather', 'get_time'].map((name) => ({ name, input_schema: weather }));
const named = (name: string) => ({ type: 'function', function: { name } });
const allowed = (mode: string, names: string[]) => ({
  type: 'allowed_tools',
  allowed_tools: { mode, tools: names.map((name) => ({ type: 'function', function: { name } })) },
});

const UNKNOWN_OPENAI =
  "Invalid value for 'tool_choice': no function named 'get_stock' was specified in the 'tools' parameter.";
const NO_TOOLS_OPENAI =
  "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified " +
  "(it names the function 'get_stock').";
const UNKNOWN_ANTHROPIC = "tool_choice.name: Tool 'get_stock' not found in provided tools.";
const NO_TOOLS_ANTHROPIC =
  "tool_choice may only be specified while providing tools (tool_choice names 'get_stock').";

/** The refusal: a TranslationError with this param and message (what the edge sends as a 400). */
const refused = (param: string, message: string) => (error: unknown) => {
  assert.ok(error instanceof TranslationError, `a TranslationError, not ${String(error)}`);
  assert.equal(error.param, param);
  assert.equal(error.message, message);
  assert.equal(error.code, 'invalid_value');
  return true;
};

/**
 * The tool fields of a translated body, whichever dialect: OpenAI's and Claude's `tools` and
 * `tool_choice`, Gemini's `tools` and `toolConfig`; for the YandexGPT / GigaChat step, its
 * choice with the functions offered (their mappers write a choice only beside functions).
 */
const toolFieldsSent = (sent: unknown): Record<string, unknown> => {
  const body = sent as Record<string, unknown>;
  if ('offered' in body)
    return Array.isArray(body.offered) && body.offered.length > 0
      ? { choice: body.choice, offered: body.offered }
      : {};
  return Object.fromEntries(
    Object.entries(body).filter(([key]) =>
      ['tools', 'tool_choice', 'toolConfig', 'parallel_tool_calls'].includes(key),
    ),
  );
};

/** Every provider an OpenAI-SDK caller's request is translated for, as the gateway calls it. */
const openAITargets: Record<string, (body: Record<string, unknown>) => unknown> = {
  Claude: (body) =>
    openAIToAnthropicRequest(openAIChatRequest.parse({ model: 'claude-sonnet-4-5', ...body })),
  Gemini: (body) => openAIToGeminiRequest(openAIChatRequest.parse({ model: 'gemini-2.5-flash', ...body })),
  // YandexGPT and GigaChat map the OpenAI body themselves, with this (their only tool_choice step).
  'YandexGPT / GigaChat': (body) => {
    const request = openAIChatRequest.parse({ model: 'yandexgpt/latest', ...body });
    const functions = (request.tools ?? []).flatMap((tool) =>
      tool.type === 'function' ? [tool.function] : [],
    );
    return toolChoiceAndOffer(request.tool_choice, functions, 'YandexGPT');
  },
};

describe('OpenAI caller: tool_choice naming an undeclared tool, translated', () => {
  for (const [target, translate] of Object.entries(openAITargets)) {
    describe(`for ${target}`, () => {
      it('a function named that is not in tools is refused as OpenAI refuses it', () =>
        assert.throws(
          () => translate({ messages: [user('Hi')], tools: openAITools, tool_choice: named('get_stock') }),
          refused('tool_choice', UNKNOWN_OPENAI),
        ));
      it('a function named with no tools is refused', () =>
        assert.throws(
          () => translate({ messages: [user('Hi')], tool_choice: named('get_stock') }),
          refused('tool_choice', NO_TOOLS_OPENAI),
        ));
      it('a function named with tools empty is refused', () =>
        assert.throws(
          () => translate({ messages: [user('Hi')], tools: [], tool_choice: named('get_stock') }),
          refused('tool_choice', NO_TOOLS_OPENAI),
        ));
      it('allowed_tools naming an undeclared tool is refused naming it', () =>
        assert.throws(
          () =>
            translate({
              messages: [user('Hi')],
              tools: openAITools,
              tool_choice: allowed('auto', ['get_time', 'get_stock']),
            }),
          refused(
            'tool_choice.allowed_tools.tools[1].function.name',
            'Allowed tool `get_stock` is not one of the function tools in `tools`.',
          ),
        ));
      it('a function named that is in tools still goes', () =>
        assert.doesNotThrow(() =>
          translate({ messages: [user('Hi')], tools: openAITools, tool_choice: named('get_time') }),
        ));
      it('`required` with no tools is refused (the call asked for cannot be made); auto and none pass', () => {
        for (const tools of [undefined, []])
          assert.throws(
            () => translate({ messages: [user('Hi')], tools, tool_choice: 'required' }),
            refused(
              'tool_choice',
              "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified (it is 'required').",
            ),
          );
        for (const tool_choice of ['auto', 'none'])
          for (const tools of [undefined, []])
            assert.deepEqual(
              toolFieldsSent(translate({ messages: [user('Hi')], tools, tool_choice })),
              {},
              `${tool_choice} without tools goes as no choice (the target refuses a choice without tools)`,
            );
        assert.doesNotThrow(() =>
          translate({ messages: [user('Hi')], tools: openAITools, tool_choice: 'required' }),
        );
      });
      it('allowed_tools naming declared tools still goes', () =>
        assert.doesNotThrow(() =>
          translate({
            messages: [user('Hi')],
            tools: openAITools,
            tool_choice: allowed('required', ['get_time']),
          }),
        ));
    });
  }

  it('the matching name reaches Claude as tool_choice {type: tool}', () => {
    const sent = openAITargets.Claude?.({
      messages: [user('Hi')],
      tools: openAITools,
      tool_choice: named('get_time'),
    }) as { tool_choice?: unknown };
    assert.deepEqual(sent.tool_choice, { type: 'tool', name: 'get_time' });
  });
  it('the matching name reaches Gemini as ANY with that function allowed', () => {
    const sent = openAITargets.Gemini?.({
      messages: [user('Hi')],
      tools: openAITools,
      tool_choice: named('get_time'),
    }) as { toolConfig?: unknown };
    assert.deepEqual(sent.toolConfig, {
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] },
    });
  });
  it('the matching name is the neutral tool choice for YandexGPT and GigaChat', () => {
    const sent = openAITargets['YandexGPT / GigaChat']?.({
      messages: [user('Hi')],
      tools: openAITools,
      tool_choice: named('get_time'),
    }) as { choice?: unknown };
    assert.deepEqual(sent.choice, { type: 'tool', name: 'get_time' });
  });
});

/** Every provider an Anthropic-SDK caller's request is translated for (YandexGPT and GigaChat
 * take the OpenAI body this writes). */
const anthropicTargets: Record<string, (body: Record<string, unknown>) => unknown> = {
  'OpenAI dialect': (body) =>
    anthropicToOpenAIRequest(anthropicMessagesRequest.parse({ model: 'gpt-4.1', max_tokens: 64, ...body })),
  Gemini: (body) =>
    anthropicToGeminiRequest(
      anthropicMessagesRequest.parse({ model: 'gemini-2.5-flash', max_tokens: 64, ...body }),
    ),
};

describe('Anthropic caller: tool_choice naming an undeclared tool, translated', () => {
  for (const [target, translate] of Object.entries(anthropicTargets)) {
    describe(`for ${target}`, () => {
      it('a tool named that is not in tools is refused as Claude refuses it', () =>
        assert.throws(
          () =>
            translate({
              messages: [user('Hi')],
              tools: anthropicTools,
              tool_choice: { type: 'tool', name: 'get_stock' },
            }),
          refused('tool_choice.name', UNKNOWN_ANTHROPIC),
        ));
      it('a tool named with no tools is refused', () =>
        assert.throws(
          () => translate({ messages: [user('Hi')], tool_choice: { type: 'tool', name: 'get_stock' } }),
          refused('tool_choice.name', NO_TOOLS_ANTHROPIC),
        ));
      it('a tool named with tools empty is refused', () =>
        assert.throws(
          () =>
            translate({
              messages: [user('Hi')],
              tools: [],
              tool_choice: { type: 'tool', name: 'get_stock' },
            }),
          refused('tool_choice.name', NO_TOOLS_ANTHROPIC),
        ));
      it('`any` with no tools is refused (the call asked for cannot be made); auto and none pass', () => {
        for (const tools of [undefined, []])
          assert.throws(
            () => translate({ messages: [user('Hi')], tools, tool_choice: { type: 'any' } }),
            refused(
              'tool_choice',
              "tool_choice may only be specified while providing tools (tool_choice is 'any').",
            ),
          );
        for (const type of ['auto', 'none'])
          for (const tools of [undefined, []])
            assert.deepEqual(
              toolFieldsSent(translate({ messages: [user('Hi')], tools, tool_choice: { type } })),
              {},
              `${type} without tools goes as no choice (OpenAI: "'tool_choice' is only allowed when 'tools' are specified")`,
            );
        assert.doesNotThrow(() =>
          translate({ messages: [user('Hi')], tools: anthropicTools, tool_choice: { type: 'any' } }),
        );
      });
      it('a tool named that is in tools still goes', () =>
        assert.doesNotThrow(() =>
          translate({
            messages: [user('Hi')],
            tools: anthropicTools,
            tool_choice: { type: 'tool', name: 'get_time' },
          }),
        ));
    });
  }

  it('the matching name reaches an OpenAI-dialect provider as the function named', () => {
    const sent = anthropicTargets['OpenAI dialect']?.({
      messages: [user('Hi')],
      tools: anthropicTools,
      tool_choice: { type: 'tool', name: 'get_time' },
    }) as { tool_choice?: unknown };
    assert.deepEqual(sent.tool_choice, { type: 'function', function: { name: 'get_time' } });
  });
});

/**
 * What means nothing without tools, translated: OpenAI refuses `tools: []` (400 `empty_array`) and
 * `parallel_tool_calls` without tools (400 naming it), Claude any `tool_choice` without tools (its
 * only place for `disable_parallel_tool_use`). The caller's own provider would answer a request
 * with `parallel_tool_calls` and no tools (Claude, Gemini) or `tools: []` (Claude): so the
 * translated body carries no tool field at all, and the request is answered.
 */
describe('tools: [] and the parallel-call switch without tools, translated', () => {
  for (const target of ['Claude', 'Gemini'] as const)
    it(`OpenAI caller to ${target}: parallel_tool_calls without tools sends no tool field`, () => {
      const translate = openAITargets[target];
      assert.ok(translate);
      for (const parallel_tool_calls of [false, true])
        for (const tools of [undefined, []])
          assert.deepEqual(
            toolFieldsSent(translate({ messages: [user('Hi')], tools, parallel_tool_calls })),
            {},
            `parallel_tool_calls ${parallel_tool_calls}, tools ${JSON.stringify(tools)}`,
          );
    });

  it('OpenAI caller to Claude: parallel_tool_calls false beside tools is disable_parallel_tool_use', () => {
    const translate = openAITargets.Claude;
    assert.ok(translate);
    const sent = translate({ messages: [user('Hi')], tools: openAITools, parallel_tool_calls: false });
    assert.deepEqual((sent as { tool_choice?: unknown }).tool_choice, {
      type: 'auto',
      disable_parallel_tool_use: true,
    });
  });

  for (const target of ['OpenAI dialect', 'Gemini'] as const)
    it(`Anthropic caller to ${target}: tools: [] (and auto with disable_parallel_tool_use) sends no tool field`, () => {
      const translate = anthropicTargets[target];
      assert.ok(translate);
      for (const extra of [{}, { tool_choice: { type: 'auto', disable_parallel_tool_use: true } }])
        for (const tools of [undefined, []])
          assert.deepEqual(
            toolFieldsSent(translate({ messages: [user('Hi')], tools, ...extra })),
            {},
            `${JSON.stringify(extra)}, tools ${JSON.stringify(tools)}`,
          );
    });

  it('Anthropic caller to the OpenAI dialect: disable_parallel_tool_use beside tools is parallel_tool_calls false', () => {
    const sent = anthropicTargets['OpenAI dialect']?.({
      messages: [user('Hi')],
      tools: anthropicTools,
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
    }) as Record<string, unknown>;
    assert.equal(sent.parallel_tool_calls, false);
    assert.equal(sent.tool_choice, 'auto');
  });
});
