/**
 * A tool choice that names a tool the request does not declare. When the request goes to a
 * provider of the caller's own dialect, that provider refuses it; translated, it would reach
 * a provider that refuses it in its own words (naming a field of the translated body) or, with
 * no tools sent, drops the choice and answers without the tool. So the parsers of the caller's
 * request refuse it first, worded as the provider of the caller's dialect words it.
 */
import { TranslationError } from './translation-error.js';

/**
 * `declared` are the names of the request's tools (an OpenAI request's function tools).
 * OpenAI: "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are
 * specified." without tools, and no function of that name in `tools` otherwise (param
 * `tool_choice`). Anthropic: "tool_choice may only be specified while providing tools." and
 * "Tool '…' not found in provided tools", with the field named as its validation errors do.
 * Either way the tool named is said, which the providers' own first message does not.
 */
export function refuseUndeclaredToolChoice(
  name: string,
  declared: readonly string[],
  dialect: 'openai' | 'anthropic',
): void {
  if (declared.includes(name)) return;
  if (dialect === 'openai')
    throw new TranslationError(
      'invalid_value',
      'tool_choice',
      declared.length === 0
        ? `Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified (it names the function '${name}').`
        : `Invalid value for 'tool_choice': no function named '${name}' was specified in the 'tools' parameter.`,
    );
  throw new TranslationError(
    'invalid_value',
    'tool_choice.name',
    declared.length === 0
      ? `tool_choice may only be specified while providing tools (tool_choice names '${name}').`
      : `tool_choice.name: Tool '${name}' not found in provided tools.`,
  );
}

/**
 * `required` (OpenAI) or `any` (Anthropic) with no tool declared: translated, the choice would
 * be dropped with the empty tools list and the answer come as text where the caller asked for
 * a call, so it is refused, as each provider refuses a tool choice without tools. (`auto` and
 * `none` without tools ask for what the answer is anyway and pass.)
 */
export function refuseForcedChoiceWithoutTools(
  declared: readonly string[],
  dialect: 'openai' | 'anthropic',
): void {
  if (declared.length > 0) return;
  if (dialect === 'openai')
    throw new TranslationError(
      'invalid_value',
      'tool_choice',
      "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified (it is 'required').",
    );
  throw new TranslationError(
    'invalid_value',
    'tool_choice',
    "tool_choice may only be specified while providing tools (tool_choice is 'any').",
  );
}
