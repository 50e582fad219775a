/**
 * Yandex Foundation Models text generation (`POST /foundationModels/v1/completion`), the
 * REST shapes the adapter writes and reads, from Yandex Cloud's API reference:
 * request `{ modelUri, completionOptions: { stream, temperature, maxTokens, reasoningOptions },
 * messages: [{
 * role, text | toolCallList | toolResultList }], tools, jsonObject | jsonSchema, toolChoice,
 * parallelToolCalls }`; answer `{ result: { alternatives: [{ message, status }], usage,
 * modelVersion } }`. int64 counters come as decimal strings (protobuf JSON). A streamed answer
 * is newline-delimited JSON, one such `{ result }` per line, each holding the whole text so far.
 * Errors: `{ error: { grpcCode, httpCode, message, httpStatus, details } }`.
 * Schemas keep only the fields read.
 */
import { z } from 'zod';

// --- request (written by the adapter) ----------------------------------------------------

export interface YandexFunctionCall {
  name: string;
  arguments: Record<string, unknown>;
}

export type YandexMessage =
  | { role: 'system' | 'user' | 'assistant'; text: string }
  | { role: 'assistant'; toolCallList: { toolCalls: { functionCall: YandexFunctionCall }[] } }
  | {
      role: 'user';
      toolResultList: { toolResults: { functionResult: { name: string; content: string } }[] };
    };

export interface YandexCompletionRequest {
  modelUri: string;
  completionOptions: {
    stream: boolean;
    temperature?: number;
    maxTokens?: string;
    /** Reasoning mode, YandexGPT Pro only; DISABLED when absent. */
    reasoningOptions?: { mode: 'DISABLED' | 'ENABLED_HIDDEN' };
  };
  messages: YandexMessage[];
  tools?: { function: { name: string; description?: string; parameters?: Record<string, unknown> } }[];
  toolChoice?: { mode: 'NONE' | 'AUTO' | 'REQUIRED' } | { functionName: string };
  parallelToolCalls?: boolean;
  jsonObject?: boolean;
  jsonSchema?: { schema: Record<string, unknown> };
}

// --- answer (read by the adapter) -------------------------------------------------------

/** An int64 counter: a decimal string in protobuf JSON, a number from some proxies. */
const int64 = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number);

export const yandexUsage = z.object({
  inputTextTokens: int64,
  completionTokens: int64,
  totalTokens: int64.optional(),
  completionTokensDetails: z.object({ reasoningTokens: int64.optional() }).nullish(),
});
export type YandexUsage = z.infer<typeof yandexUsage>;

export const yandexStatus = z.enum([
  'ALTERNATIVE_STATUS_UNSPECIFIED',
  'ALTERNATIVE_STATUS_PARTIAL',
  'ALTERNATIVE_STATUS_TRUNCATED_FINAL',
  'ALTERNATIVE_STATUS_FINAL',
  'ALTERNATIVE_STATUS_CONTENT_FILTER',
  'ALTERNATIVE_STATUS_TOOL_CALLS',
]);
export type YandexStatus = z.infer<typeof yandexStatus>;

const functionCall = z.object({ name: z.string(), arguments: z.record(z.string(), z.unknown()).nullish() });

export const yandexAlternative = z.object({
  message: z.object({
    role: z.string().optional(),
    text: z.string().nullish(),
    toolCallList: z.object({ toolCalls: z.array(z.object({ functionCall })) }).nullish(),
  }),
  status: yandexStatus,
});
export type YandexAlternative = z.infer<typeof yandexAlternative>;

export const yandexCompletionResponse = z.object({
  result: z.object({
    alternatives: z.array(yandexAlternative).min(1),
    usage: yandexUsage.nullish(),
    modelVersion: z.string().nullish(),
  }),
});
export type YandexCompletionResponse = z.infer<typeof yandexCompletionResponse>;

export const yandexError = z.object({
  error: z.object({
    grpcCode: z.number().int().nullish(),
    httpCode: z.number().int().nullish(),
    message: z.string().nullish(),
    httpStatus: z.string().nullish(),
  }),
});
