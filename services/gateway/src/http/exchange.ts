import type { ServerResponse } from 'node:http';
import type { KordonEventData } from '@kordon/events';
import { z } from 'zod';
import {
  GENERATE_OPERATION,
  NOT_READY,
  type OperationRequest,
  type ProviderAdapter,
  type ProviderAnswer,
  type ProviderConfig,
  type ProviderEventStream,
} from '../providers/index.js';
import { pricesByServiceTier } from '../providers/provider-support.js';
import { countTextTokens, estimatePromptTokens } from '../tokens/index.js';
import { AnthropicStreamParser } from '../translate/anthropic-stream-parser.js';
import {
  anthropicMessageResponse,
  anthropicMessagesRequest,
  anthropicToGeminiRequest,
  anthropicToOpenAIRequest,
  anthropicToOpenAIResponse,
  anthropicToOpenAIStream,
  anthropicToolNamesSent,
  anthropicUsage,
  geminiGenerateContentResponse,
  geminiToAnthropicResponse,
  geminiToAnthropicStream,
  geminiToOpenAIResponse,
  geminiToOpenAIStream,
  OPENAI_DONE,
  openAIChatCompletion,
  openAIChatRequest,
  openAIToAnthropicRequest,
  openAIToAnthropicResponse,
  openAIToAnthropicStream,
  openAIToGeminiRequest,
  openAIUsage,
  StreamTranslator,
  TranslationError,
  UsageReport,
  usageFromAnthropic,
  usageFromGemini,
  usageFromOpenAI,
} from '../translate/index.js';
import { OpenAIStreamParser } from '../translate/openai-stream-parser.js';
import type { StreamFailure } from '../translate/stream-parts.js';
import type { StreamFacts } from '../translate/stream-translator.js';
import {
  handCheckedOpenAIUsage,
  type NormalisedUsage,
  openAIUsageOf,
  withServiceTier,
} from '../translate/usage.js';
import { DEFAULT_UPSTREAM_TIMEOUTS } from '../upstream/upstream-client.js';
import {
  isRetryableStatus,
  isUpstreamError,
  providerErrorFromStatus,
  UpstreamError,
} from '../upstream/upstream-error.js';
import { answerHeaders, type Dialect } from './gateway-error.js';
import type { Route } from './route-model.js';

/** The request in the provider's dialect, and how its answer comes back in the caller's. */
export interface Exchange {
  operation: OperationRequest;
  /**
   * A finished answer: the caller's body and the usage (counted when the provider gave none);
   * `storedId` when the provider keeps the answer under the key that made it (a Responses API
   * answer, which a later request names as `previous_response_id`; a Claude answer to a request
   * with `thread`, whose thread a later turn continues by `previous_message_id`). `loggedText`: the answer's
   * text for a request log that keeps bodies, when it is not read from `text` (embeddings have
   * none, and their megabytes of vectors are not parsed to find that out). `failure`: the
   * answer says it failed (a Responses `status: "failed"`): forwarded, recorded failed with it.
   */
  answer(answer: ProviderAnswer): {
    text: string;
    usage: NormalisedUsage | undefined;
    storedId?: string;
    loggedText?: () => string;
    failure?: AnswerFailure;
  };
  /**
   * Forwards a streamed answer event by event. `settle` is called once: `complete` only when
   * the provider's terminator arrived (whatever the transport does after it); a break before
   * it ends the caller's stream with an error event. `failure`: the terminator said the
   * answer failed (a Responses `response.failed`): the request is recorded failed with it.
   * `brokenBy`: what broke an interrupted stream on the provider's side (its error event read
   * as the status it stands for, a reset, a timeout), which the key is held to. A stream that
   * fails before anything was written to the caller rejects with that error instead, without
   * settling: the attempt failed as an error status would, and the next key may serve.
   */
  stream(
    events: ProviderEventStream,
    res: ServerResponse,
    /** `interruption`: set when Kordon ended the stream itself (shutdown), the caller's message. */
    timing: { firstByteAt?: number; interruption?: string },
    settle: (
      usage: NormalisedUsage | undefined,
      end: StreamEnd,
      outputText?: () => string,
      facts?: StreamFacts,
      failure?: AnswerFailure,
      brokenBy?: UpstreamError,
    ) => void,
  ): Promise<void>;
}

type ProviderDialect = ProviderAdapter['dialect'];

/** How a streamed answer ended for the caller. */
export type StreamEnd = 'complete' | 'interrupted' | 'client_disconnected';

/** Why a provider said its streamed answer failed, as the request's RequestFailed records it. */
export type AnswerFailure = Extract<
  KordonEventData<'RequestFailed'>['errorCode'],
  'upstream_rejected' | 'upstream_rate_limited' | 'upstream_timeout' | 'upstream_unavailable'
>;

function parseOr<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue?.path.map(String).join('.') ?? '';
  throw new TranslationError(
    'invalid_value',
    param,
    `${what}: ${param ? `${param}: ` : ''}${issue?.message ?? 'invalid'}`,
  );
}

/**
 * A provider's answer (status 2xx, JSON) read by its schema. One that does not fit is the
 * provider's fault, not the caller's: an `upstream_invalid_response` (502 to the caller, the
 * next key tried, as for a body that is not JSON), saying the provider's own error message
 * when the answer is an error object sent with a success status. An answer whose only fault
 * is its usage object (`"prompt_tokens": null` from a sloppy server) is read without it: the
 * answer was made and paid for, and the tokenizer counts it (asking another key would pay twice).
 */
function parseAnswer<T>(
  schema: z.ZodType<T>,
  json: unknown,
  usageField: 'usage' | 'usageMetadata',
  redact: (text: string) => string,
): T {
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  if (
    typeof json === 'object' &&
    json !== null &&
    parsed.error.issues.every((issue) => issue.path[0] === usageField)
  ) {
    const { [usageField]: _unreadable, ...rest } = json as Record<string, unknown>;
    const withoutUsage = schema.safeParse(rest);
    if (withoutUsage.success) return withoutUsage.data;
  }
  const issue = parsed.error.issues[0];
  const param = issue?.path.map(String).join('.') ?? '';
  throw unreadableAnswer(json, redact, `${param ? `${param}: ` : ''}${issue?.message ?? 'invalid'}`);
}

/**
 * The error for a 2xx answer that is not the answer asked for: it says the provider's own
 * message (without the call's secrets) when the answer is an error object, else `detail`.
 */
export function unreadableAnswer(
  json: unknown,
  redact: (text: string) => string,
  detail: string,
): UpstreamError {
  const error = (json as { error?: unknown } | null)?.error;
  const providerMessage =
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
      ? redact((error as { message: string }).message).slice(0, 300)
      : undefined;
  return new UpstreamError(
    'upstream_invalid_response',
    providerMessage !== undefined
      ? `the provider answered with an error and a success status: ${providerMessage}`
      : `the provider's answer could not be read: ${detail}`,
    { phase: 'body' },
  );
}

/**
 * Plans one request for one provider of the chain; undefined when that provider does not
 * serve the endpoint (the next provider of the chain is tried). `storedInput`: the tokens of
 * the stored conversation a Responses follow-up continues at this provider, when this process
 * recorded it (billed as input, which the body does not carry).
 */
export type ExchangePlanner = (
  caller: Dialect,
  adapter: ProviderAdapter,
  config: ProviderConfig,
  body: Record<string, unknown>,
  route: Route,
  requestId: string,
  stream: boolean,
  storedInput?: number,
) => Exchange | undefined;

/** The id of a Claude answer to a request with `thread` (Claude holds the thread under it). */
function threadAnswerId(body: Record<string, unknown>, json: unknown): string | undefined {
  if (body.thread === undefined || body.thread === null) return undefined;
  const id = (json as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Nothing to emit: used to follow a same-dialect stream (usage, terminator) while forwarding it
 * as is. One shared empty list, frozen (the translator only reads it), not a new one a frame.
 */
const NOTHING = Object.freeze([]) as never[];
const FOLLOW_ONLY = { emit: () => NOTHING };

/**
 * Plans one exchange between a caller dialect and a provider dialect. Same dialect: the
 * body goes as sent (model replaced by the routed name), the answer comes back as the
 * provider sent it; other dialects go through the translate layer.
 */
export const planChatExchange: ExchangePlanner = (
  caller,
  adapter,
  config,
  body,
  route,
  requestId,
  stream,
) => {
  const provider: ProviderDialect = adapter.dialect;
  // The tier an OpenAI-dialect answer names prices it only at OpenAI (and Azure): Groq's flex is not OpenAI's.
  const serviceTierPriced = pricesByServiceTier(adapter);
  const created = Math.floor(Date.now() / 1000);
  const shownModel = route.model;
  const includeUsage =
    caller === 'openai' &&
    typeof body.stream_options === 'object' &&
    body.stream_options !== null &&
    (body.stream_options as { include_usage?: unknown }).include_usage === true;

  // Counted only when the provider reports no usage at all; a prompt the estimator cannot read
  // as text, as admission counts it (it was served: it is not free).
  const fallbackUsage = (outputText: string): NormalisedUsage => ({
    inputTokens: estimatePromptTokens({
      dialect: caller === 'openai' ? 'openai-chat' : 'anthropic-messages',
      body,
      model: route.model,
    }),
    outputTokens: countTextTokens(outputText, route.model).tokens,
    cachedInputTokens: 0,
  });

  let upstreamBody: Record<string, unknown>;
  // Tool names too long for OpenAI and Gemini go shortened (for Gemini, a leading digit or dash
  // gets `_`): the answer's calls are named back by this.
  let toolNames: ReadonlyMap<string, string> | undefined;
  if (caller === provider) {
    upstreamBody = { ...body, model: route.model };
  } else if (caller === 'openai') {
    const request = parseOr(openAIChatRequest, { ...body, model: route.model }, 'request');
    const defaultMaxTokens = route.provider.options.defaultMaxTokens;
    upstreamBody = (
      provider === 'anthropic'
        ? openAIToAnthropicRequest(request, defaultMaxTokens === undefined ? {} : { defaultMaxTokens })
        : openAIToGeminiRequest(request)
    ) as Record<string, unknown>;
  } else {
    const request = parseOr(anthropicMessagesRequest, { ...body, model: route.model }, 'request');
    toolNames = anthropicToolNamesSent(request, provider === 'gemini' ? 'gemini' : 'openai');
    upstreamBody = (
      provider === 'openai'
        ? anthropicToOpenAIRequest(request, {
            maxTokensField: adapter.outputLimitField?.(config),
            reasoningContent: writesReasoningBack(adapter, config),
            reasoningSwitch: adapter.reasoningSwitch === true,
          })
        : anthropicToGeminiRequest(request)
    ) as Record<string, unknown>;
  }
  // Gemini takes the model and streaming in the URL, and refuses a body field it does not know.
  if (provider !== 'gemini') {
    upstreamBody.model = route.model;
    upstreamBody.stream = stream;
  }
  const operation: OperationRequest = {
    operation: GENERATE_OPERATION[provider],
    model: route.model,
    stream,
    body: upstreamBody,
    callerDialect: caller,
  };

  const answer = (reply: ProviderAnswer) => {
    const json = reply.json();
    // The provider's words in an error reach the caller: without the call's key (some servers echo it).
    const read = <T>(schema: z.ZodType<T>, usageField: 'usage' | 'usageMetadata') =>
      parseAnswer(schema, json, usageField, reply.redact);
    // Same dialect, body not remapped by the adapter: the provider's bytes go out as they
    // came, and only the usage (and the shape around it) is validated.
    const forwardRaw = caller === provider && !adapter.mapResponse;
    if (provider === 'openai') {
      // The tier that served the answer prices its tokens (OpenAI's priority, flex).
      const tier = serviceTierPriced ? (json as { service_tier?: unknown } | null)?.service_tier : undefined;
      if (forwardRaw) {
        const usage = plainOpenAIUsage(json) ?? read(openAIAnswerUsage, 'usage').usage;
        if (usage) return { text: reply.rawText, usage: withServiceTier(usageFromOpenAI(usage), tier) };
      }
      const completion = read(openAIChatCompletion, 'usage');
      const usage = withServiceTier(
        usageFromOpenAI(completion.usage) ?? fallbackUsage(openAICompletionText(completion)),
        tier,
      );
      if (forwardRaw) return { text: reply.rawText, usage };
      // What the caller is shown is what is charged: the count when the provider gave no usage.
      const out =
        caller === 'openai'
          ? json
          : openAIToAnthropicResponse(completion, { model: shownModel, fallbackUsage: usage, toolNames });
      return { text: JSON.stringify(out), usage };
    }
    if (provider === 'anthropic') {
      // A threaded request's answer: Claude holds the thread under its id, for the key's account.
      const threadId = caller === 'anthropic' ? threadAnswerId(body, json) : undefined;
      const stored = threadId === undefined ? {} : { storedId: threadId };
      if (forwardRaw) {
        const { usage } = read(anthropicAnswerUsage, 'usage');
        if (usage) return { text: reply.rawText, usage: usageFromAnthropic(usage), ...stored };
      }
      const message = read(anthropicMessageResponse, 'usage');
      const usage = usageFromAnthropic(message.usage) ?? fallbackUsage(anthropicMessageText(message));
      if (forwardRaw) return { text: reply.rawText, usage, ...stored };
      const out =
        caller === 'anthropic'
          ? json
          : anthropicToOpenAIResponse(message, { created, model: shownModel, fallbackUsage: usage });
      return { text: JSON.stringify(out), usage, ...stored };
    }
    const response = read(geminiGenerateContentResponse, 'usageMetadata');
    const usage = usageFromGemini(response.usageMetadata) ?? fallbackUsage(geminiResponseText(response));
    const context = {
      fallbackId: requestId,
      requestedModel: route.model,
      model: shownModel,
      fallbackUsage: usage,
    };
    const out =
      caller === 'openai'
        ? geminiToOpenAIResponse(response, { ...context, created })
        : geminiToAnthropicResponse(response, { ...context, toolNames });
    return { text: JSON.stringify(out), usage };
  };

  const translatorOptions = { fallbackUsage };
  // A Gemini stream is complete when each of the `n` candidates asked for has finished.
  const choices = caller === 'openai' && typeof body.n === 'number' && body.n > 1 ? body.n : 1;
  const geminiOptions = { fallbackId: requestId, requestedModel: route.model, choices };
  // Same dialect: follow the stream to know its usage and terminator, forward it as is. One
  // for each attempt: a stream that failed before reaching the caller is followed by another's.
  const newTranslator = (): StreamTranslator<unknown> =>
    caller === provider
      ? new StreamTranslator<unknown>(
          caller === 'openai' ? new OpenAIStreamParser({ serviceTierPriced }) : new AnthropicStreamParser(),
          FOLLOW_ONLY,
          translatorOptions,
        )
      : caller === 'openai'
        ? provider === 'anthropic'
          ? anthropicToOpenAIStream({ includeUsage, created, model: shownModel, ...translatorOptions })
          : geminiToOpenAIStream({
              includeUsage,
              created,
              model: shownModel,
              ...geminiOptions,
              ...translatorOptions,
            })
        : provider === 'openai'
          ? openAIToAnthropicStream({ model: shownModel, serviceTierPriced, toolNames, ...translatorOptions })
          : geminiToAnthropicStream({ model: shownModel, toolNames, ...geminiOptions, ...translatorOptions });

  const frame = (event: unknown): string => {
    if (caller === 'openai') return `data: ${JSON.stringify(event)}\n\n`;
    const type = (event as { type?: unknown }).type;
    return `event: ${typeof type === 'string' ? type : 'message'}\ndata: ${JSON.stringify(event)}\n\n`;
  };

  const rawAnthropicFrame = (event: unknown, raw: string): string => {
    const type = (event as { type?: unknown }).type;
    return `event: ${typeof type === 'string' ? type : 'message'}\ndata: ${raw}\n\n`;
  };

  const stallMs = callerStallMs(route);
  const streamAnswer: Exchange['stream'] = async (events, res, timing, settle) => {
    const translator = newTranslator();
    // The 200 waits for the first write to the caller (Node sends a response's head with its
    // first write anyway): until then a stream that fails (an error event, a reset, an end
    // before any event) is a failed attempt, and the next key or provider is asked.
    let committed = false;
    const commit = () => {
      if (committed) return;
      committed = true;
      res.writeHead(200, streamHeaders(caller, requestId));
    };
    let broken: string | undefined;
    let brokenBy: unknown;
    // Frames of one upstream read go out in one write, and the last ones in the write that
    // ends the answer: a socket write costs a system call, and a pass-through pays one per
    // read, not one per frame.
    let batch = '';
    // A keep-alive the provider sends while its model thinks (OpenRouter's `: OPENROUTER
    // PROCESSING`) is passed on when nothing else is waiting to go, so that an idle timeout in
    // front of Kordon (nginx's 60 s) does not cut a long wait; the SDKs skip comments. It
    // commits the stream: a failure after it ends the caller's stream, no other key is asked.
    events.onKeepAlive = () => {
      if (res.destroyed || batch !== '' || translator.finished || translator.failure !== undefined) return;
      commit();
      write(res, KEEP_ALIVE);
    };
    /** The first upstream event: the time to first token of a stream that carries no content. */
    let firstEventAt: number | undefined;
    try {
      // The events of one network read are taken in one synchronous loop (no await each).
      network: for await (const first of events) {
        for (let event: unknown = first; event !== NOT_READY; event = events.takeReady()) {
          const out = translator.push(event);
          // Time to first token ends at the first content (text, reasoning, a tool call), not
          // at the stream's opening (Claude's message_start comes before a model's long think).
          if (timing.firstByteAt === undefined) {
            firstEventAt ??= performance.now();
            if (translator.content) timing.firstByteAt = performance.now();
          }
          if (caller === provider) {
            // [DONE] is written below, only after a clean end; a usage chunk only when the caller
            // asked; a mapper's UsageReport (YandexGPT's running usage) is the translator's alone.
            const skip =
              event === OPENAI_DONE ||
              event instanceof UsageReport ||
              (caller === 'openai' && !includeUsage && isUsageOnlyChunk(event));
            const raw = events.lastFrameData;
            if (!skip) {
              const text =
                raw === undefined
                  ? frame(event)
                  : caller === 'openai'
                    ? `data: ${raw}\n\n`
                    : rawAnthropicFrame(event, raw);
              // The provider's error event is forwarded, but not a key it may quote.
              batch += translator.failure === undefined ? text : events.redact(text);
            }
          } else {
            for (const item of out) batch += frame(item);
          }
          if (res.destroyed) break network;
        }
        // An error event before anything was written and before any content: the attempt
        // failed (below). After content (in the same read) the answer had begun: it goes out
        // with its error, as a break mid-stream does; so does an answer the model gave and
        // that failed (billed, and its usage may follow).
        if (!committed && translator.failure !== undefined && beforeAnswer(translator)) break;
        if (batch !== '' && !events.ready && !translator.finished) {
          commit();
          const text = batch;
          batch = '';
          if (!write(res, text)) await drained(res, stallMs);
        }
        if (res.destroyed) break;
      }
    } catch (error) {
      // After the provider's terminator the answer is whole (the dialect says so, never the
      // transport): a reset or a timeout before the upstream closes changes nothing.
      if (!translator.finished) {
        broken = error instanceof Error ? error.message : String(error);
        brokenBy = error;
      }
    }
    if (
      !committed &&
      !translator.finished &&
      !res.destroyed &&
      timing.interruption === undefined &&
      beforeAnswer(translator)
    ) {
      // Nothing reached the caller: failed as an error status would have (an error of
      // Kordon's own, not the provider's, is no failed attempt and goes up as it is).
      events.cancel();
      timing.firstByteAt = undefined;
      if (brokenBy !== undefined && !isUpstreamError(brokenBy)) throw brokenBy;
      throw streamFailureError(brokenBy, translator.failure, events.redact.bind(events));
    }
    timing.firstByteAt ??= firstEventAt;
    if (res.destroyed) {
      events.cancel();
      settle(translator.usageSoFar(), 'client_disconnected', () => translator.outputText(), translator.facts);
      return;
    }
    if (translator.finished) {
      // Gemini's usage may come after its finish chunk: the caller's usage is written only now.
      for (const item of translator.close()) batch += frame(item);
      // A caller that asked for include_usage gets its usage chunk before [DONE], as OpenAI
      // promises, when the provider sent none (Azure before api-version 2024-09-01, servers
      // that ignore stream_options): the tokens Kordon counted, as it charges them.
      const counted = translator.usage;
      if (caller === provider && includeUsage && translator.usageCounted && counted !== undefined) {
        batch += frame({
          id: translator.facts.responseId ?? `chatcmpl-${requestId}`,
          object: 'chat.completion.chunk',
          created,
          model: translator.facts.responseModel ?? shownModel,
          choices: [],
          usage: openAIUsageOf(counted),
        });
      }
      commit();
      endAnswer(res, caller === 'openai' ? `${batch}data: [DONE]\n\n` : batch, stallMs);
      settle(translator.usage, 'complete', () => translator.outputText(), translator.facts);
      return;
    }
    const message =
      broken ?? translator.failure?.message ?? 'the provider ended the stream before it was complete';
    // The provider's own error event, forwarded as sent to a caller of its dialect, already ends
    // the stream: a second error event of Kordon's after it is not what the provider sends.
    const errorForwarded = caller === provider && translator.failure?.kind === 'upstream_error';
    const last =
      timing.interruption !== undefined
        ? errorFrame(caller, timing.interruption)
        : errorForwarded
          ? ''
          : errorFrame(caller, `upstream stream interrupted: ${events.redact(message)}`, translator.failure);
    commit();
    endAnswer(res, batch + last, stallMs);
    // The key is held to what broke its stream; not when Kordon ended it, nor for its own fault,
    // nor for an answer the model gave that failed (Gemini's MALFORMED_FUNCTION_CALL): the key
    // and its provider served.
    const modelFailed =
      brokenBy === undefined && translator.failure?.kind === 'upstream_error' && translator.failure.answered;
    const keyFailure =
      timing.interruption !== undefined ||
      modelFailed ||
      (brokenBy !== undefined && !isUpstreamError(brokenBy))
        ? undefined
        : streamFailureError(brokenBy, translator.failure, events.redact.bind(events));
    settle(
      translator.usageSoFar(),
      'interrupted',
      () => translator.outputText(),
      translator.facts,
      undefined,
      keyFailure,
    );
  };

  return { operation, answer, stream: streamAnswer };
};

/**
 * Whether an assistant turn's reasoning goes back as `reasoning_content` (only reasoning that
 * server's model wrote is: see translate/README.md): DeepSeek's thinking mode refuses a tool-call
 * turn without it, and the other OpenAI-compatible servers that return the field are sent it,
 * but Groq and Mistral, whose schemas refuse unknown message fields ("property
 * 'reasoning_content' is unsupported"), and OpenAI, which documents no such field.
 */
function writesReasoningBack(adapter: ProviderAdapter, config: ProviderConfig): boolean {
  return adapter.id === 'openai-compatible' && config.vendor !== 'groq' && config.vendor !== 'mistral';
}

/** The part of a same-dialect answer Kordon needs: its usage (the rest is forwarded as is). */
const openAIAnswerUsage = z.object({ choices: z.array(z.unknown()), usage: openAIUsage.nullish() });
const anthropicAnswerUsage = z.object({ content: z.array(z.unknown()), usage: anthropicUsage.nullish() });

/**
 * The usage of a well-formed same-dialect answer, checked by hand (`handCheckedOpenAIUsage`);
 * undefined leaves the answer to the schema, which accepts or explains it.
 */
export function plainOpenAIUsage(json: unknown): z.infer<typeof openAIUsage> | undefined {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { choices?: unknown }).choices))
    return undefined;
  return handCheckedOpenAIUsage((json as { usage?: unknown }).usage);
}

/**
 * What a tokenizer counts when an answer carries no usage: the text, the reasoning (billed as
 * output: DeepSeek's `reasoning_content`, Mistral's thinking chunks, OpenRouter's `reasoning`)
 * and the tool-call arguments.
 */
function openAICompletionText(completion: z.infer<typeof openAIChatCompletion>): string {
  let text = '';
  for (const choice of completion.choices) {
    const { reasoning_content, reasoning } = choice.message;
    text +=
      typeof reasoning_content === 'string'
        ? reasoning_content
        : typeof reasoning === 'string'
          ? reasoning
          : '';
    text += choice.message.content ?? '';
    for (const call of choice.message.tool_calls ?? []) text += call.function.name + call.function.arguments;
  }
  return text;
}

function anthropicMessageText(message: z.infer<typeof anthropicMessageResponse>): string {
  let text = '';
  for (const block of message.content) {
    if (block.type === 'text' && 'text' in block) text += block.text;
    else if (block.type === 'tool_use' && 'input' in block) text += JSON.stringify(block.input);
  }
  return text;
}

function geminiResponseText(response: z.infer<typeof geminiGenerateContentResponse>): string {
  let text = '';
  for (const candidate of response.candidates ?? []) {
    for (const part of candidate.content?.parts ?? []) {
      if (typeof part.text === 'string') text += part.text;
      if (part.functionCall) text += JSON.stringify(part.functionCall);
    }
  }
  return text;
}

function isUsageOnlyChunk(event: unknown): boolean {
  const chunk = event as { choices?: unknown[]; usage?: unknown };
  return Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage != null;
}

/**
 * The headers of a streamed answer. A proxy in front of Kordon must pass each event on as it
 * comes: `X-Accel-Buffering: no` turns off nginx's response buffering for it, and
 * `no-transform` keeps a proxy from compressing (so holding back) the stream.
 */
export function streamHeaders(caller: Dialect, requestId: string): Record<string, string> {
  const headers = answerHeaders(caller, requestId, 'text/event-stream; charset=utf-8');
  headers['cache-control'] = 'no-cache, no-transform';
  headers['x-accel-buffering'] = 'no';
  headers.connection = 'keep-alive';
  return headers;
}

export function write(res: ServerResponse, text: string): boolean {
  return res.destroyed ? true : res.write(text);
}

/**
 * How long a streamed answer waits on a caller who takes nothing of what is written: as long
 * as a whole provider call may last (its total timeout). A caller stalled longer (a laptop
 * asleep, a NAT that dropped the connection without a reset) is gone; otherwise the request
 * would stay unsettled, its event unwritten and its budget held, for as long as the TCP
 * connection lives. A caller that reads, however slowly, is never cut by this.
 */
export function callerStallMs(route: Route): number {
  return route.provider.options.timeouts?.totalMs ?? DEFAULT_UPSTREAM_TIMEOUTS.totalMs;
}

/**
 * Resolves when the caller has taken what was written (`drain`) or is gone (`close`); after
 * `stallMs` without either, the answer is destroyed: the caller is then gone too.
 */
export function drained(res: ServerResponse, stallMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(stalled);
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    const stalled = setTimeout(() => {
      res.destroy();
      done();
    }, stallMs);
    res.once('drain', done);
    res.once('close', done);
  });
}

/** How much of a finished answer goes out in one write (in UTF-16 code units). */
const ANSWER_SLICE_CHARS = 64 * 1024;

/**
 * Writes the last of an answer and ends it at the pace the caller reads, as a stream is: a
 * caller that takes nothing for `stallMs` is gone, and its connection is closed. Ended whole,
 * an answer to a caller who stopped reading kept its socket, its memory and its share of the
 * body budget (given back at the response's close) for as long as the TCP connection lived.
 */
export function endAnswer(res: ServerResponse, text: string, stallMs: number): void {
  if (text.length <= ANSWER_SLICE_CHARS) {
    res.end(text);
    closeIfStalled(res, stallMs);
    return;
  }
  void endInSlices(res, text, stallMs);
}

async function endInSlices(res: ServerResponse, text: string, stallMs: number): Promise<void> {
  let at = 0;
  while (!res.destroyed) {
    let end = at + ANSWER_SLICE_CHARS;
    if (end >= text.length) {
      res.end(text.slice(at));
      closeIfStalled(res, stallMs);
      return;
    }
    // Each write is encoded on its own: a surrogate pair is not split between two.
    const code = text.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff) end += 1;
    const more = write(res, text.slice(at, end));
    at = end;
    if (!more) await drained(res, stallMs);
  }
}

/** An ended answer the caller has not taken within `stallMs`: its connection is closed. */
function closeIfStalled(res: ServerResponse, stallMs: number): void {
  if (res.writableFinished || res.destroyed) return;
  const stalled = setTimeout(() => res.destroy(), stallMs);
  res.once('close', () => clearTimeout(stalled));
}

/**
 * The error event each SDK understands mid-stream (it raises instead of seeing a clean end).
 * `failure`: what the provider's stream said, when it broke on an error event: an overload
 * (Claude's overloaded_error, Gemini's UNAVAILABLE, OpenAI's server_is_overloaded, a 503 or
 * 529) is said as one, Anthropic's `overloaded_error` (which Claude Code retries; an
 * `api_error` it does not) or OpenAI's `service_unavailable_error` / `server_is_overloaded`.
 */
export function errorFrame(caller: Dialect, message: string, failure?: StreamFailure): string {
  const overloaded = failure !== undefined && isOverload(failure);
  if (caller === 'openai') {
    const [type, code] = overloaded
      ? ['service_unavailable_error', 'server_is_overloaded']
      : ['api_error', 'stream_interrupted'];
    return `data: ${JSON.stringify({ error: { message, type, param: null, code } })}\n\n`;
  }
  const type = overloaded ? 'overloaded_error' : 'api_error';
  return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message } })}\n\n`;
}

/**
 * The `error` event Kordon ends a Responses stream with (the API's ResponseErrorEvent: `code`,
 * `message`, `param`, `sequence_number`, which goes on from the events before it), with the
 * error nested too, as OpenAI's own events do: the SDK raises it.
 */
export function responsesErrorFrame(message: string, sequenceNumber: number): string {
  const error = { message, type: 'api_error', code: 'stream_interrupted', param: null };
  const event = {
    type: 'error',
    code: error.code,
    message,
    param: null,
    sequence_number: sequenceNumber,
    error,
  };
  return `event: error\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The `sequence_number` after a Responses event's; after one without, one more than `next`. */
export function sequenceAfter(event: unknown, next: number): number {
  const sequence = (event as { sequence_number?: unknown } | null | undefined)?.sequence_number;
  return Number.isSafeInteger(sequence) ? (sequence as number) + 1 : next + 1;
}

/** An SSE comment: the caller's connection is alive while the provider's model thinks. */
const KEEP_ALIVE = ': keep-alive\n\n';

/**
 * No answer has begun: no content, and no failure that is an answer the model gave (billed):
 * a stream ending here, on an error event or a break, is a failed attempt.
 */
function beforeAnswer(translator: StreamTranslator<unknown>): boolean {
  const failure = translator.failure;
  return !translator.content && !(failure?.kind === 'upstream_error' && failure.answered === true);
}

/**
 * What broke a provider's stream, as the error of its attempt: the transport's own (a reset,
 * an idle timeout), the provider's error event read as the status it stands for (an overload
 * as 529 or 503, a rate limit as 429: the balancer learns of it as of that status), an event
 * that is not its dialect's, or an end before the answer was complete.
 */
export function streamFailureError(
  error: unknown,
  failure: StreamFailure | undefined,
  redact: (text: string) => string,
): UpstreamError {
  if (isUpstreamError(error)) return error;
  if (failure?.kind === 'upstream_error') {
    const status = failure.status ?? STATUS_OF_ERROR_TYPE.get(failure.errorType) ?? 500;
    const message = redact(failure.message).slice(0, 300);
    // The event's own delay (Gemini's RetryInfo) rests the key as a status answer's does, and
    // for the one model whose quota it names (Gemini's QuotaFailure) when it names one.
    const { retryAfterMs } = failure;
    const provider = providerErrorFromStatus(status, message, failure.errorType);
    const quotaModel = provider.type === 'rate_limit' ? failure.quotaModel : undefined;
    return new UpstreamError('upstream_http_error', `the provider's stream failed: ${message}`, {
      phase: 'body',
      status,
      provider: { ...provider, retryAfterMs, ...(quotaModel !== undefined && { quotaModel }) },
      isRetryable: isRetryableStatus(status),
      retryAfterMs,
    });
  }
  if (failure?.kind === 'malformed_event')
    return new UpstreamError('upstream_invalid_response', redact(failure.message).slice(0, 300), {
      phase: 'body',
    });
  return new UpstreamError('upstream_reset', 'the provider ended the stream before it was complete', {
    phase: 'body',
  });
}

/** The status an error event's type stands for, in each dialect (an unknown one: 500). */
const STATUS_OF_ERROR_TYPE: ReadonlyMap<string, number> = new Map([
  // Anthropic
  ['overloaded_error', 529],
  ['rate_limit_error', 429],
  ['api_error', 500],
  ['authentication_error', 401],
  ['permission_error', 403],
  ['invalid_request_error', 400],
  ['not_found_error', 404],
  ['request_too_large', 413],
  ['timeout_error', 504],
  // OpenAI and OpenAI-compatible servers
  ['server_is_overloaded', 503],
  ['service_unavailable_error', 503],
  ['rate_limit_exceeded', 429],
  ['server_error', 500],
  // Gemini (its `code` usually says the status itself)
  ['UNAVAILABLE', 503],
  ['RESOURCE_EXHAUSTED', 429],
  ['INTERNAL', 500],
  ['DEADLINE_EXCEEDED', 504],
  ['INVALID_ARGUMENT', 400],
  ['UNAUTHENTICATED', 401],
  ['PERMISSION_DENIED', 403],
  ['NOT_FOUND', 404],
]);

/** Error types that say the provider is overloaded, in each dialect. */
const OVERLOAD_TYPES: ReadonlySet<string> = new Set([
  'overloaded_error',
  'UNAVAILABLE',
  'server_is_overloaded',
  'service_unavailable_error',
]);

function isOverload(failure: StreamFailure): boolean {
  if (failure.kind !== 'upstream_error') return false;
  return OVERLOAD_TYPES.has(failure.errorType) || failure.status === 503 || failure.status === 529;
}
