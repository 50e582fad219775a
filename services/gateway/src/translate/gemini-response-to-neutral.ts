/** Reads a Gemini generateContent answer into the neutral form. */
import { finishReasonFromGemini, geminiFailedCall } from './finish-reasons.js';
import { geminiToolCallId } from './gemini-tool-call-id.js';
import type { GeminiGenerateContentResponse, GeminiLogprobsResult } from './gemini-types.js';
import type {
  NeutralChoice,
  NeutralResponse,
  NeutralTokenLogprob,
  NeutralToolCall,
} from './neutral-response.js';
import { usageFromGemini } from './usage.js';

/**
 * Thought parts (`thought: true`, summaries of the model's reasoning) are left out: the
 * caller's dialects have no field for them. A prompt blocked before any candidate was made
 * (`promptFeedback.blockReason`) is one empty choice that finished with content_filter. A
 * candidate left without content by a failed function call says so in its text and finishes
 * with length: not the clean, empty end an agent loop would stop on.
 */
export function neutralFromGeminiResponse(
  response: GeminiGenerateContentResponse,
  fallback: { id: string; model: string },
): NeutralResponse {
  const usage = usageFromGemini(response.usageMetadata);
  const candidates = response.candidates ?? [];
  const id = response.responseId ?? fallback.id;
  let callPosition = 0;
  const choices: NeutralChoice[] = candidates.map((candidate, position) => {
    const texts: string[] = [];
    const toolCalls: NeutralToolCall[] = [];
    for (const part of candidate.content?.parts ?? []) {
      if (part.thought) continue;
      // Gemini may send an empty text part beside a call: no text, as its stream gives none
      // (an empty text block would also be refused when an Anthropic caller sends it back).
      if (part.text) texts.push(part.text);
      if (part.functionCall) {
        const { id: givenId, name, args } = part.functionCall;
        toolCalls.push({
          id: geminiToolCallId(id, callPosition++, givenId),
          name,
          input: args ?? {},
        });
      }
    }
    const index = candidate.index ?? position;
    if (texts.length === 0 && toolCalls.length === 0) {
      // Not an error: a thrown answer would lose the usage Gemini billed. Its message as the text, cut short.
      const failed = geminiFailedCall(candidate.finishReason, candidate.finishMessage);
      if (failed !== undefined) return { index, text: failed, toolCalls, finishReason: 'length' };
    }
    return {
      index,
      text: texts.length > 0 ? texts.join('') : null,
      toolCalls,
      finishReason: finishReasonFromGemini(candidate.finishReason, toolCalls.length > 0),
      ...(candidate.logprobsResult ? { logprobs: tokenLogprobs(candidate.logprobsResult) } : {}),
    };
  });
  if (choices.length === 0)
    choices.push({
      index: 0,
      text: null,
      toolCalls: [],
      finishReason: response.promptFeedback?.blockReason ? 'content_filter' : 'stop',
    });
  return {
    id,
    model: response.modelVersion ?? fallback.model,
    choices,
    ...(usage ? { usage } : {}),
  };
}

/** Gemini's chosen token of each decoding step, with that step's top candidates beside it. */
function tokenLogprobs(result: GeminiLogprobsResult): NeutralTokenLogprob[] {
  const top = result.topCandidates ?? [];
  return (result.chosenCandidates ?? []).map((chosen, step) => ({
    token: chosen.token ?? '',
    logprob: chosen.logProbability ?? 0,
    top: (top[step]?.candidates ?? []).map((candidate) => ({
      token: candidate.token ?? '',
      logprob: candidate.logProbability ?? 0,
    })),
  }));
}
