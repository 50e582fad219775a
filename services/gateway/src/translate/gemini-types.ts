/**
 * Gemini (Generative Language API) generateContent wire types, reduced to the fields the
 * translators write and read. The model is part of the URL, not of the body.
 */
import { z } from 'zod';

// --- request (what the translators write) -----------------------------------------------

export const geminiPart = z.object({
  text: z.string().optional(),
  /** True on parts that are thought summaries rather than the answer. */
  thought: z.boolean().optional(),
  thoughtSignature: z.string().optional(),
  inlineData: z.object({ mimeType: z.string(), data: z.string() }).optional(),
  fileData: z.object({ mimeType: z.string().optional(), fileUri: z.string() }).optional(),
  functionCall: z
    .object({
      id: z.string().optional(),
      name: z.string(),
      args: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  functionResponse: z
    .object({ id: z.string().optional(), name: z.string(), response: z.record(z.string(), z.unknown()) })
    .optional(),
});
export type GeminiPart = z.infer<typeof geminiPart>;

export const geminiContent = z.object({
  role: z.enum(['user', 'model']).optional(),
  parts: z.array(geminiPart),
});
export type GeminiContent = z.infer<typeof geminiContent>;

export const geminiGenerateContentRequest = z.object({
  contents: z.array(geminiContent),
  systemInstruction: z.object({ parts: z.array(z.object({ text: z.string() })) }).optional(),
  tools: z
    .array(
      z.object({
        functionDeclarations: z.array(
          z.object({
            name: z.string(),
            description: z.string().optional(),
            /** JSON Schema, not the OpenAPI subset that `parameters` takes. */
            parametersJsonSchema: z.record(z.string(), z.unknown()).optional(),
          }),
        ),
      }),
    )
    .optional(),
  toolConfig: z
    .object({
      functionCallingConfig: z.object({
        mode: z.enum(['AUTO', 'ANY', 'NONE']),
        allowedFunctionNames: z.array(z.string()).optional(),
      }),
    })
    .optional(),
  generationConfig: z
    .object({
      maxOutputTokens: z.number().int().optional(),
      temperature: z.number().optional(),
      topP: z.number().optional(),
      topK: z.number().int().optional(),
      stopSequences: z.array(z.string()).optional(),
      candidateCount: z.number().int().optional(),
      presencePenalty: z.number().optional(),
      frequencyPenalty: z.number().optional(),
      seed: z.number().int().optional(),
      responseMimeType: z.string().optional(),
      /** Log probabilities of the chosen tokens, and with `logprobs` of that many top candidates (0-20). */
      responseLogprobs: z.boolean().optional(),
      logprobs: z.number().int().optional(),
      responseJsonSchema: z.record(z.string(), z.unknown()).optional(),
      /** How much the model thinks: a token budget (Gemini 2.5) or a level (Gemini 3), never both. */
      thinkingConfig: z
        .object({
          thinkingBudget: z.number().int().optional(),
          thinkingLevel: z.enum(['minimal', 'low', 'medium', 'high']).optional(),
        })
        .optional(),
    })
    .optional(),
});
export type GeminiGenerateContentRequest = z.infer<typeof geminiGenerateContentRequest>;

// --- usage ------------------------------------------------------------------------------

/**
 * One modality's share of a count (`{ modality: "AUDIO", tokenCount: 1200 }`). The modality is
 * kept as a string (Google adds modalities: TEXT, IMAGE, VIDEO, AUDIO, DOCUMENT), and a zero
 * count may be left out (proto3 JSON omits zeros).
 */
const modalityTokenCount = z.object({
  modality: z.string().optional(),
  tokenCount: z.number().int().nonnegative().optional(),
});
export type GeminiModalityTokenCount = z.infer<typeof modalityTokenCount>;

/**
 * `promptTokenCount` includes `cachedContentTokenCount`; `thoughtsTokenCount` is NOT part of
 * `candidatesTokenCount` (totalTokenCount = prompt + toolUsePrompt + candidates + thoughts).
 * `promptTokensDetails` splits the whole prompt (cached content included) by modality and
 * `cacheTokensDetails` the cached part: Gemini bills AUDIO input above text, image and video.
 */
export const geminiUsageMetadata = z.object({
  promptTokenCount: z.number().int().nonnegative().optional(),
  candidatesTokenCount: z.number().int().nonnegative().optional(),
  cachedContentTokenCount: z.number().int().nonnegative().optional(),
  thoughtsTokenCount: z.number().int().nonnegative().optional(),
  toolUsePromptTokenCount: z.number().int().nonnegative().optional(),
  totalTokenCount: z.number().int().nonnegative().optional(),
  promptTokensDetails: z.array(modalityTokenCount).optional(),
  cacheTokensDetails: z.array(modalityTokenCount).optional(),
});
export type GeminiUsageMetadata = z.infer<typeof geminiUsageMetadata>;

// --- response and stream chunk (upstream, parsed) ---------------------------------------

/** One token and its log probability (`LogprobsResult.Candidate`; proto3 JSON may omit a zero). */
const logprobsCandidate = z.object({ token: z.string().optional(), logProbability: z.number().optional() });

/**
 * A candidate's log probabilities (ai.google.dev/api/generate-content#LogprobsResult): one
 * chosen token per decoding step, and per step the top candidates asked for (`logprobs`).
 */
const logprobsResult = z.object({
  chosenCandidates: z.array(logprobsCandidate).optional(),
  topCandidates: z.array(z.object({ candidates: z.array(logprobsCandidate).optional() })).optional(),
});
export type GeminiLogprobsResult = z.infer<typeof logprobsResult>;

const responsePart = z.object({
  text: z.string().optional(),
  thought: z.boolean().optional(),
  functionCall: z
    .object({
      id: z.string().optional(),
      name: z.string(),
      args: z.record(z.string(), z.unknown()).nullish(),
    })
    .optional(),
});
export type GeminiResponsePart = z.infer<typeof responsePart>;

/** A whole response and a stream chunk have the same shape. */
export const geminiGenerateContentResponse = z.object({
  candidates: z
    .array(
      z.object({
        content: z.object({ parts: z.array(responsePart).optional() }).optional(),
        // Kept as a string: Google adds finish reasons over time, and an unknown one must not fail a stream.
        finishReason: z.string().optional(),
        /** Gemini's explanation of a finishReason other than STOP (a malformed call, say). */
        finishMessage: z.string().optional(),
        index: z.number().int().optional(),
        logprobsResult: logprobsResult.optional(),
      }),
    )
    .optional(),
  promptFeedback: z.object({ blockReason: z.string().optional() }).optional(),
  usageMetadata: geminiUsageMetadata.optional(),
  modelVersion: z.string().optional(),
  responseId: z.string().optional(),
});
export type GeminiGenerateContentResponse = z.infer<typeof geminiGenerateContentResponse>;

/** Google's error shape, which an SSE stream can also carry as its last `data:`. */
export const geminiStreamError = z.object({
  error: z.object({
    code: z.number().optional(),
    message: z.string(),
    status: z.string().optional(),
    details: z.array(z.unknown()).nullish(),
  }),
});

/** A protobuf Duration in JSON (`"7s"`, `"0.5s"`, `"1.250s"`) in milliseconds. */
export function parseProtoDuration(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /^(\d+(?:\.\d+)?)s$/.exec(text);
  return match?.[1] === undefined ? undefined : Math.ceil(Number(match[1]) * 1000);
}

// QuotaFailure: which quotas were exceeded (`quotaDimensions: { model, location }`).
const quotaFailure = z.object({
  '@type': z.string(),
  violations: z
    .array(z.object({ quotaDimensions: z.object({ model: z.string().optional() }).optional() }))
    .optional(),
});

/**
 * The model whose own quota a 429 names, when every quota its google.rpc.QuotaFailure says was
 * exceeded is one of that model (`GenerateRequestsPerDayPerProjectPerModel`:
 * `quotaDimensions.model`): the key still serves the other models, which have quotas of their
 * own. Undefined when a violation has no model (a quota of the whole project) or there is no
 * QuotaFailure. Read alike from a 429's body and from the same error sent as a stream's event.
 */
export function googleQuotaModel(details: readonly unknown[] | null | undefined): string | undefined {
  let model: string | undefined;
  for (const item of details ?? []) {
    const read = quotaFailure.safeParse(item);
    if (!read.success || !read.data['@type'].endsWith('google.rpc.QuotaFailure')) continue;
    for (const violation of read.data.violations ?? []) {
      const named = violation.quotaDimensions?.model;
      if (named === undefined || (model !== undefined && named !== model)) return undefined;
      model = named;
    }
  }
  return model;
}

const retryInfo = z.object({ '@type': z.string(), retryDelay: z.string().optional() });

/**
 * The delay of a google.rpc.RetryInfo among an error's `details`, in milliseconds: read alike
 * from a 429's body and from the same error sent as an event of a stream.
 */
export function googleRetryDelayMs(details: readonly unknown[] | null | undefined): number | undefined {
  for (const item of details ?? []) {
    const read = retryInfo.safeParse(item);
    if (read.success && read.data['@type'].endsWith('google.rpc.RetryInfo'))
      return parseProtoDuration(read.data.retryDelay);
  }
  return undefined;
}
