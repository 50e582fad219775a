import type { z } from 'zod';
import {
  countAnthropicMessages,
  countOpenAiChat,
  countOpenAiResponses,
  countTextTokens,
  Tally,
  type TokenCount,
} from './count.js';
import { anthropicMessagesRequest, embeddingsRequest, openAiChatRequest } from './request-shapes.js';
import { tokenizerForModel } from './tokenizer.js';

/*
 * A request's token estimate for admission: what the prompt will cost before the provider
 * says, plus the most the answer may cost. Admission reserves
 *   inputTokens + (maxOutputTokens ?? the policy's default)
 * and settles with the provider's real usage afterwards.
 *
 *   openai-chat          prompt by the cookbook formula (count.ts); maxOutputTokens =
 *                        (max_completion_tokens ?? max_tokens) x n, null when unbounded
 *   anthropic-messages   prompt estimated (count.ts); maxOutputTokens = max_tokens
 *   openai-embeddings    every input string through the model's encoding (exact for
 *                        text-embedding-3-* and ada-002), token-id inputs by their length;
 *                        maxOutputTokens = 0
 *   openai-responses     instructions, input items and tools (count.ts); maxOutputTokens =
 *                        max_output_tokens, null when unbounded
 *
 * Bodies are read through small zod schemas that keep only the fields counted; a body they
 * cannot read yields `{ ok: false }` with the reason, never an exception.
 */

export type EstimateDialect = 'openai-chat' | 'anthropic-messages' | 'openai-embeddings' | 'openai-responses';

export interface RequestTokenEstimate extends TokenCount {
  /** The model the estimate was made for. */
  readonly model: string;
  /** Prompt tokens. Same as `tokens`. */
  readonly inputTokens: number;
  /** The most output the request allows, or null when it sets no bound. */
  readonly maxOutputTokens: number | null;
}

export type EstimateResult =
  | { readonly ok: true; readonly estimate: RequestTokenEstimate }
  | { readonly ok: false; readonly error: string };

export interface EstimateRequest {
  readonly dialect: EstimateDialect;
  /** The parsed JSON body as the client sent it. */
  readonly body: unknown;
  /** The model that will serve it, when routing resolved it to another name than the body's. */
  readonly model?: string;
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
    .join('; ');
}

function done(count: TokenCount, model: string, maxOutputTokens: number | null): EstimateResult {
  return { ok: true, estimate: { ...count, model, inputTokens: count.tokens, maxOutputTokens } };
}

export function estimateRequestTokens(request: EstimateRequest): EstimateResult {
  switch (request.dialect) {
    case 'openai-chat': {
      const parsed = openAiChatRequest.safeParse(request.body);
      if (!parsed.success) return { ok: false, error: describe(parsed.error) };
      const body = parsed.data;
      const model = request.model ?? body.model;
      const limit = body.max_completion_tokens ?? body.max_tokens ?? null;
      return done(countOpenAiChat(body, model), model, limit === null ? null : limit * (body.n ?? 1));
    }
    case 'anthropic-messages': {
      const parsed = anthropicMessagesRequest.safeParse(request.body);
      if (!parsed.success) return { ok: false, error: describe(parsed.error) };
      const body = parsed.data;
      const model = request.model ?? body.model;
      return done(countAnthropicMessages(body, model), model, body.max_tokens);
    }
    case 'openai-embeddings': {
      const parsed = embeddingsRequest.safeParse(request.body);
      if (!parsed.success) return { ok: false, error: describe(parsed.error) };
      const body = parsed.data;
      const model = request.model ?? body.model;
      // Token ids are exact whatever the tokenizer; text is exact only with the model's own.
      const tally = new Tally(tokenizerForModel(model));
      const inputs = typeof body.input === 'string' ? [body.input] : body.input;
      for (const item of inputs) {
        if (typeof item === 'string') tally.text(item);
        else if (typeof item === 'number') tally.tokens += 1;
        else tally.tokens += item.length;
      }
      return done(tally.result(), model, 0);
    }
    case 'openai-responses': {
      // Read without a schema: its items are many and open-ended; what is not text is skipped.
      const body = request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return { ok: false, error: '(body): expected an object' };
      const fields = body as Record<string, unknown>;
      const model = request.model ?? (typeof fields.model === 'string' ? fields.model : undefined);
      if (model === undefined) return { ok: false, error: 'model: expected a string' };
      const limit = fields.max_output_tokens;
      const maxOutput = typeof limit === 'number' && Number.isInteger(limit) && limit > 0 ? limit : null;
      return done(countOpenAiResponses(fields, model), model, maxOutput);
    }
    default: {
      const unknown: never = request.dialect;
      return { ok: false, error: `unknown dialect ${String(unknown)}` };
    }
  }
}

/**
 * The prompt tokens of a request that is served: the estimate's, or, for a body the estimator
 * cannot read (a field of a shape it does not know, which the provider may take all the same),
 * its prompt fields counted as text, so that such a request is never charged nothing.
 */
export function estimatePromptTokens(request: EstimateRequest & { readonly model: string }): number {
  const estimate = estimateRequestTokens(request);
  if (estimate.ok) return estimate.estimate.inputTokens;
  const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<
    string,
    unknown
  >;
  const prompt = [body.system, body.instructions, body.tools, body.input ?? body.messages];
  return countTextTokens(JSON.stringify(prompt), request.model).tokens;
}
