/**
 * An OpenAI `tool_choice` as the neutral choice, for the writers of other dialects and the
 * YandexGPT and GigaChat mappers, none of which has `allowed_tools` or custom tools.
 */
import { refuseForcedChoiceWithoutTools, refuseUndeclaredToolChoice } from './named-tool-choice.js';
import type { NeutralToolChoice } from './neutral-request.js';
import type { OpenAIToolChoice } from './openai-chat-types.js';
import { TranslationError } from './translation-error.js';

/**
 * `functionNames` are the request's function tools; `target` names the provider in a refusal
 * (`this model`, `YandexGPT`). A custom tool named (as the choice, or among the allowed tools) is
 * refused as custom tools are, and a function named that is not among them as OpenAI refuses it
 * (`refuseUndeclaredToolChoice`: translated, no provider would say so in OpenAI's words).
 * `allowed_tools` names tools of the request (a name that matches none is refused: the writers
 * cut the tools list to the allowed ones); one allowed tool with `required` is that tool named,
 * every tool allowed is plain `auto` or `required`, and none allowed with `auto` is `none` (no
 * tool may be called; `required` with none is refused).
 */
export function openAIToolChoice(
  choice: OpenAIToolChoice,
  functionNames: readonly string[],
  target: string,
): NeutralToolChoice {
  if (typeof choice === 'string') {
    if (choice === 'required') refuseForcedChoiceWithoutTools(functionNames, 'openai');
    return { type: choice };
  }
  switch (choice.type) {
    case 'function':
      refuseUndeclaredToolChoice(choice.function.name, functionNames, 'openai');
      return { type: 'tool', name: choice.function.name };
    case 'custom':
      throw customRefused('tool_choice', target);
    case 'allowed_tools':
      return allowedTools(choice.allowed_tools, functionNames, target);
    default: {
      const unknown: never = choice;
      throw new Error(`unhandled tool_choice ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * For a writer that takes the request's function tools as they are (YandexGPT, GigaChat): the
 * caller's choice as the neutral one, and the functions to offer, cut to the allowed ones when
 * the choice is `allowed_tools` (those providers have no list of callable tools apart from it).
 */
export function toolChoiceAndOffer<Fn extends { name: string }>(
  choice: OpenAIToolChoice | null | undefined,
  functions: Fn[],
  target: string,
): { choice: NeutralToolChoice | undefined; offered: Fn[] } {
  if (choice == null) return { choice: undefined, offered: functions };
  const neutral = openAIToolChoice(
    choice,
    functions.map((fn) => fn.name),
    target,
  );
  return {
    choice: neutral,
    offered:
      neutral.type === 'allowed' ? functions.filter((fn) => neutral.names.includes(fn.name)) : functions,
  };
}

function allowedTools(
  allowed: Extract<OpenAIToolChoice, { type: 'allowed_tools' }>['allowed_tools'],
  functionNames: readonly string[],
  target: string,
): NeutralToolChoice {
  const offered = new Set(functionNames);
  const names: string[] = [];
  allowed.tools.forEach((tool, index) => {
    const path = `tool_choice.allowed_tools.tools[${index}]`;
    if (tool.type === 'custom') throw customRefused(path, target);
    const { name } = tool.function;
    if (!offered.has(name))
      throw new TranslationError(
        'invalid_value',
        `${path}.function.name`,
        `Allowed tool \`${name}\` is not one of the function tools in \`tools\`.`,
      );
    if (!names.includes(name)) names.push(name);
  });
  const { mode } = allowed;
  if (names.length === 0) {
    if (mode === 'auto') return { type: 'none' };
    throw new TranslationError(
      'invalid_value',
      'tool_choice.allowed_tools.tools',
      '`allowed_tools` with mode `required` must name at least one tool.',
    );
  }
  if (names.length === offered.size) return { type: mode };
  const [only] = names;
  if (names.length === 1 && mode === 'required' && only !== undefined) return { type: 'tool', name: only };
  return { type: 'allowed', mode, names };
}

function customRefused(path: string, target: string): TranslationError {
  return new TranslationError(
    'unsupported_value',
    path,
    `\`tool_choice\` names a custom tool: tools of type \`custom\` exist only at OpenAI; ${target} takes only \`function\` tools.`,
  );
}
