/**
 * GigaChat API shapes (developers.sber.ru, REST reference), reduced to the fields read.
 *
 * - OAuth: `POST https://ngw.devices.sberbank.ru:9443/api/v2/oauth`, form body `scope=...`,
 *   headers `Authorization: Basic <authorization key>` and `RqUID: <uuid4>`; answer
 *   `{ access_token, expires_at }`, `expires_at` in Unix milliseconds (tokens live 30 minutes).
 * - Chat: `POST https://gigachat.devices.sberbank.ru/api/v1/chat/completions`, OpenAI-like
 *   but with the older function-calling form: `functions` and `function_call` in the request,
 *   `role: "function"` messages for results, an assistant `function_call` whose arguments are
 *   an object, `finish_reason: "function_call"` (and `"blacklist"` for filtered answers). No
 *   answer id; `object` is `chat.completion` in chunks too. Usage comes in the last chunk,
 *   unasked, with `precached_prompt_tokens`. Streams are SSE ending with `data: [DONE]`.
 * - Errors: `{ status, message }` (OAuth errors: `{ code, message }`).
 */
import { z } from 'zod';

// --- request (written by the adapter) ----------------------------------------------------

export interface GigaChatFunctionCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface GigaChatMessage {
  role: 'system' | 'user' | 'assistant' | 'function';
  content: string;
  /** The function's name, on `function` messages. */
  name?: string;
  function_call?: GigaChatFunctionCall;
  functions_state_id?: string;
}

export interface GigaChatChatRequest {
  model: string;
  messages: GigaChatMessage[];
  stream: boolean;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  functions?: { name: string; description?: string; parameters?: Record<string, unknown> }[];
  function_call?: 'auto' | 'none' | { name: string };
  /** Structured output (ai-forever/gigachat, models/response_format.py: JsonSchemaResponseFormat). */
  response_format?: { type: 'json_schema'; schema: Record<string, unknown>; strict?: boolean };
}

// --- answers ------------------------------------------------------------------------------

export const gigaChatUsage = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative().optional(),
  precached_prompt_tokens: z.number().int().nonnegative().nullish(),
});
export type GigaChatUsage = z.infer<typeof gigaChatUsage>;

const functionCall = z.object({
  name: z.string(),
  arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).nullish(),
});

export const gigaChatFinishReason = z.enum(['stop', 'length', 'function_call', 'blacklist', 'error']);
export type GigaChatFinishReason = z.infer<typeof gigaChatFinishReason>;

export const gigaChatCompletion = z.object({
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({
        content: z.string().nullish(),
        function_call: functionCall.nullish(),
        functions_state_id: z.string().nullish(),
      }),
      finish_reason: gigaChatFinishReason.nullish(),
    }),
  ),
  created: z.number().int().optional(),
  model: z.string().optional(),
  usage: gigaChatUsage.nullish(),
});
export type GigaChatCompletion = z.infer<typeof gigaChatCompletion>;

export const gigaChatChunk = z.object({
  choices: z.array(
    z.object({
      index: z.number().int(),
      delta: z
        .object({
          content: z.string().nullish(),
          function_call: functionCall.nullish(),
          functions_state_id: z.string().nullish(),
        })
        .nullish(),
      finish_reason: gigaChatFinishReason.nullish(),
    }),
  ),
  created: z.number().int().optional(),
  model: z.string().optional(),
  usage: gigaChatUsage.nullish(),
});
export type GigaChatChunk = z.infer<typeof gigaChatChunk>;

export const gigaChatError = z.object({
  status: z.number().int().optional(),
  code: z.number().int().optional(),
  message: z.string(),
});

export const gigaChatToken = z.object({
  access_token: z.string().min(1),
  expires_at: z.number().int().positive(),
});
