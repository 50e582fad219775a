/** The dialect-neutral form of a finished (non-streamed) answer. */
import type { NeutralFinishReason } from './finish-reasons.js';
import type { NormalisedUsage } from './usage.js';

export interface NeutralToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export interface NeutralChoice {
  index: number;
  /** The answer text; null when the model produced none (a pure tool call, a blocked prompt). */
  text: string | null;
  toolCalls: NeutralToolCall[];
  finishReason: NeutralFinishReason;
  /** The model's reasoning as text, where the provider returns it (DeepSeek's `reasoning_content`). */
  reasoning?: string;
  /** Each token of the answer with its log probability, when the caller asked (OpenAI's `logprobs`). */
  logprobs?: NeutralTokenLogprob[];
}

export interface NeutralTokenLogprob {
  token: string;
  logprob: number;
  /** The most likely tokens at this position, most likely first. */
  top: { token: string; logprob: number }[];
}

export interface NeutralResponse {
  id: string;
  model: string;
  choices: NeutralChoice[];
  /** Undefined when the provider reported none. */
  usage?: NormalisedUsage;
}

/** What the caller's side knows and the provider's answer does not say. */
export interface ResponseContext {
  /** Unix seconds for OpenAI's `created` (Anthropic and Gemini answers carry no time). */
  created: number;
  /** The model name to show the caller; default: the one the provider reported. */
  model?: string;
  /** Usage to report when the provider gave none (counted by the gateway with a tokenizer). */
  fallbackUsage?: NormalisedUsage;
  /** Tool names the provider was sent in place of the caller's (too long for it), to the caller's. */
  toolNames?: ReadonlyMap<string, string>;
}
