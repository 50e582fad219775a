/**
 * Test support: a mock of Yandex Foundation Models' completion method in its wire format
 * (see yandexgpt-api-types.ts), with the answers of @kordon/mock-providers (the same echo,
 * tool calls and token counts) and the scenarios of provider-mock-server.ts.
 *
 * - `POST /foundationModels/v1/completion`; `Authorization: Api-Key <key>` or
 *   `Bearer <IAM token>`; the folder of `modelUri` must be the mock's.
 * - A streamed answer is NDJSON: one line per word, each with the whole text so far, status
 *   PARTIAL and the running usage; the last line has status FINAL (its terminator).
 * - `contentFilter` scripts Yandex's content filter: an answer to a last user text containing
 *   its `trigger` streams `afterWords` words (default 2) as PARTIAL lines, then a line with
 *   status CONTENT_FILTER and Yandex's canned notice (`CONTENT_FILTER_NOTICE`) in place of the
 *   text so far, as Yandex does when the filter trips on the output; a plain answer (or
 *   `afterWords: 0`, the filter tripping on the prompt) is the notice alone.
 * - Errors as Yandex writes them: `{ error: { grpcCode, httpCode, message, httpStatus, details } }`.
 *   An unknown key is quoted in the message, as Yandex does, so redaction can be tested.
 * - A 429 carries `retry-after` (whether Yandex sends one is not documented; the adapter
 *   reads it when present).
 * - `reasoningOptions.mode: ENABLED_HIDDEN` reasons `reasoningTokens` tokens (default 200)
 *   before the answer, never shown: every line's usage, the first one's too, counts them in
 *   `completionTokens` and names them in `completionTokensDetails.reasoningTokens` (the
 *   reference: "how the completion tokens were utilized").
 */
import {
  type Answer,
  answerFor,
  type Conversation,
  countTokens,
  DEFAULT_REPLY_PREFIX,
  type MockErrorKind,
} from '@kordon/mock-providers';
import { z } from 'zod';
import {
  type MockHttpOptions,
  type MockHttpServer,
  type MockReply,
  type MockRequest,
  startMockHttpServer,
} from '../provider-mock-server.js';

export interface YandexGPTMockOptions extends MockHttpOptions {
  readonly apiKeys: readonly string[];
  readonly iamTokens?: readonly string[];
  readonly folderId: string;
  /** Answers to a last user text containing `trigger` are stopped by the content filter. */
  readonly contentFilter?: { readonly trigger: string; readonly afterWords?: number };
  /** The hidden reasoning's tokens of a request that asks for it (ENABLED_HIDDEN); default 200. */
  readonly reasoningTokens?: number;
}

const DEFAULT_REASONING_TOKENS = 200;

const MODEL_VERSION = '23.10.2024';

/** The replacement text Yandex sends with CONTENT_FILTER (black-roland/homeassistant-yandexgpt#9). */
export const CONTENT_FILTER_NOTICE =
  'В интернете есть много сайтов с информацией на эту тему. [Посмотрите, что нашлось в поиске](https://ya.ru)';

const requestSchema = z.object({
  modelUri: z.string(),
  completionOptions: z
    .object({
      stream: z.boolean().optional(),
      temperature: z.number().min(0).max(1).optional(),
      maxTokens: z.union([z.string().regex(/^\d+$/), z.number().int()]).optional(),
      reasoningOptions: z.object({ mode: z.enum(['DISABLED', 'ENABLED_HIDDEN']) }).optional(),
    })
    .optional(),
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'user', 'assistant']),
        text: z.string().optional(),
        toolCallList: z.object({ toolCalls: z.array(z.unknown()) }).optional(),
        toolResultList: z
          .object({ toolResults: z.array(z.object({ functionResult: z.object({ content: z.string() }) })) })
          .optional(),
      }),
    )
    .min(1),
  tools: z
    .array(z.object({ function: z.object({ name: z.string(), parameters: z.unknown().optional() }) }))
    .optional(),
});
type YandexRequest = z.infer<typeof requestSchema>;

function errorReply(
  status: number,
  grpcCode: number,
  httpStatus: string,
  message: string,
  headers?: Record<string, string>,
): MockReply {
  return {
    kind: 'json',
    status,
    body: { error: { grpcCode, httpCode: status, message, httpStatus, details: [] } },
    ...(headers ? { headers } : {}),
  };
}

function scenarioError(kind: MockErrorKind, retryAfterSeconds: number | undefined): MockReply {
  const retry = retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) };
  switch (kind) {
    case 'rate-limit':
      return errorReply(
        429,
        8,
        'Too Many Requests',
        'ai.textGenerationCompletionSessionsCount.count gauge quota limit exceeded: limit 10, current 10',
        { 'retry-after': String(retryAfterSeconds ?? 1) },
      );
    case 'server-error':
      return errorReply(500, 13, 'Internal Server Error', 'Internal error', retry);
    case 'unavailable':
      return errorReply(503, 14, 'Service Unavailable', 'Service is unavailable', retry);
    case 'overloaded':
      return errorReply(503, 14, 'Service Unavailable', 'Model is overloaded, please retry later', retry);
    case 'unauthorized':
      return errorReply(401, 16, 'Unauthorized', 'The API key is revoked', retry);
    case 'forbidden':
      return errorReply(403, 7, 'Forbidden', 'Permission to [resource-manager.folder] denied', retry);
    case 'context-overflow':
      // Its words for an overlong prompt are not in its public reference: not played.
      throw new Error('the Yandex mock plays no context-overflow');
    default: {
      const unknown: never = kind;
      throw new Error(`no Yandex error for ${String(unknown)}`);
    }
  }
}

function authenticate(request: MockRequest, options: YandexGPTMockOptions): MockReply | undefined {
  const header = request.headers.authorization ?? '';
  const [scheme, credential = ''] = header.split(' ', 2);
  if (scheme === 'Api-Key' && options.apiKeys.includes(credential)) return undefined;
  if (scheme === 'Bearer' && (options.iamTokens ?? []).includes(credential)) return undefined;
  if (header === '') return errorReply(401, 16, 'Unauthorized', 'The token is invalid');
  return errorReply(401, 16, 'Unauthorized', `Unknown api key '${credential}'`);
}

function conversation(request: YandexRequest): Conversation {
  const last = request.messages.at(-1);
  const results = last?.toolResultList?.toolResults ?? [];
  const lastUser = request.messages.findLast(
    (message) => message.role === 'user' && message.text !== undefined,
  );
  return {
    lastTurn:
      results.length > 0
        ? { kind: 'tool-result', text: results.map((result) => result.functionResult.content).join('\n') }
        : { kind: 'user', text: lastUser?.text ?? '' },
    promptTexts: request.messages.map(
      (message) =>
        message.text ??
        message.toolResultList?.toolResults.map((r) => r.functionResult.content).join('\n') ??
        '',
    ),
    messageCount: request.messages.length,
    tools: (request.tools ?? []).map((tool) => ({
      name: tool.function.name,
      parameters: tool.function.parameters,
    })),
    maxOutputTokens:
      request.completionOptions?.maxTokens === undefined
        ? undefined
        : Number(request.completionOptions.maxTokens),
  };
}

/** Yandex's usage; hidden reasoning is a part of `completionTokens`, named in its details. */
function usage(inputTokens: number, outputTokens: number, reasoningTokens = 0) {
  const completion = outputTokens + reasoningTokens;
  return {
    inputTextTokens: String(inputTokens),
    completionTokens: String(completion),
    totalTokens: String(inputTokens + completion),
    ...(reasoningTokens > 0 ? { completionTokensDetails: { reasoningTokens: String(reasoningTokens) } } : {}),
  };
}

function finalAlternative(answer: Answer) {
  if (answer.kind === 'tool-call') {
    return {
      message: {
        role: 'assistant',
        toolCallList: {
          toolCalls: [
            {
              functionCall: { name: answer.toolName, arguments: JSON.parse(answer.argumentsJson) as unknown },
            },
          ],
        },
      },
      status: 'ALTERNATIVE_STATUS_TOOL_CALLS',
    };
  }
  return {
    message: { role: 'assistant', text: answer.text },
    status: answer.truncated ? 'ALTERNATIVE_STATUS_TRUNCATED_FINAL' : 'ALTERNATIVE_STATUS_FINAL',
  };
}

function result(alternative: unknown, usageValue: unknown, omitUsage: boolean) {
  return {
    result: {
      alternatives: [alternative],
      ...(omitUsage ? {} : { usage: usageValue }),
      modelVersion: MODEL_VERSION,
    },
  };
}

const filteredAlternative = {
  message: { role: 'assistant', text: CONTENT_FILTER_NOTICE },
  status: 'ALTERNATIVE_STATUS_CONTENT_FILTER',
};

/** The cumulative texts of a text answer, one a word with its leading spaces. */
function cumulativeTexts(answer: Answer): string[] {
  if (answer.kind !== 'text') return [];
  let sent = '';
  return (answer.text.match(/\s*\S+/gu) ?? []).map((word) => {
    sent += word;
    return sent;
  });
}

/**
 * The NDJSON lines of a streamed answer: PARTIAL lines, then the final one. With
 * `filterAfterWords` the filter stops the answer after that many words with the notice,
 * billed for the words generated.
 */
function streamLines(
  answer: Answer,
  omitUsage: boolean,
  reasoning: number,
  filterAfterWords?: number,
): string[] {
  const texts = cumulativeTexts(answer);
  // Unfiltered, the whole text comes with the final status, not in a PARTIAL line of its own.
  const partials =
    filterAfterWords === undefined
      ? texts.filter((text) => answer.kind !== 'text' || text !== answer.text)
      : texts.slice(0, filterAfterWords);
  const lines = partials.map((text) =>
    result(
      { message: { role: 'assistant', text }, status: 'ALTERNATIVE_STATUS_PARTIAL' },
      usage(answer.inputTokens, countTokens(text), reasoning),
      omitUsage,
    ),
  );
  lines.push(
    filterAfterWords === undefined
      ? result(finalAlternative(answer), usage(answer.inputTokens, answer.outputTokens, reasoning), omitUsage)
      : result(
          filteredAlternative,
          usage(answer.inputTokens, countTokens(partials.at(-1) ?? ''), reasoning),
          omitUsage,
        ),
  );
  return lines.map((line) => `${JSON.stringify(line)}\n`);
}

/** How many words the content filter lets through for this request; undefined: not filtered. */
function wordsBeforeFilter(request: YandexRequest, options: YandexGPTMockOptions): number | undefined {
  const filter = options.contentFilter;
  if (!filter) return undefined;
  const lastUser = request.messages.findLast(
    (message) => message.role === 'user' && message.text !== undefined,
  );
  return lastUser?.text?.includes(filter.trigger) ? (filter.afterWords ?? 2) : undefined;
}

export function startYandexGPTMock(options: YandexGPTMockOptions): Promise<MockHttpServer> {
  return startMockHttpServer((request) => {
    if (request.method !== 'POST' || request.path !== '/foundationModels/v1/completion') {
      return errorReply(404, 5, 'Not Found', 'Not Found');
    }
    const refused = authenticate(request, options);
    if (refused) return refused;
    const { scenario } = request;
    if (scenario.error) return scenarioError(scenario.error, scenario.retryAfterSeconds);
    const parsed = requestSchema.safeParse(request.body);
    if (!parsed.success) {
      return errorReply(
        400,
        3,
        'Bad Request',
        `Error in request: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      );
    }
    const body = parsed.data;
    const folderHeader = request.headers['x-folder-id'];
    if (
      !body.modelUri.startsWith(`gpt://${options.folderId}/`) ||
      (folderHeader && folderHeader !== options.folderId)
    ) {
      return errorReply(403, 7, 'Forbidden', 'Permission to [resource-manager.folder] denied');
    }
    const answer = answerFor(conversation(body), DEFAULT_REPLY_PREFIX);
    const omitUsage = scenario.omitUsage === true;
    const filterAfter = wordsBeforeFilter(body, options);
    const reasoning =
      body.completionOptions?.reasoningOptions?.mode === 'ENABLED_HIDDEN'
        ? (options.reasoningTokens ?? DEFAULT_REASONING_TOKENS)
        : 0;
    if (body.completionOptions?.stream) {
      const frames = streamLines(answer, omitUsage, reasoning, filterAfter);
      return {
        kind: 'stream',
        status: 200,
        contentType: 'application/json',
        frames,
        terminatorIndex: frames.length - 1,
      };
    }
    if (filterAfter !== undefined) {
      const generated = cumulativeTexts(answer).slice(0, filterAfter).at(-1) ?? '';
      return {
        kind: 'json',
        status: 200,
        body: result(
          filteredAlternative,
          usage(answer.inputTokens, countTokens(generated), reasoning),
          omitUsage,
        ),
      };
    }
    return {
      kind: 'json',
      status: 200,
      body: result(
        finalAlternative(answer),
        usage(answer.inputTokens, answer.outputTokens, reasoning),
        omitUsage,
      ),
    };
  }, options);
}
