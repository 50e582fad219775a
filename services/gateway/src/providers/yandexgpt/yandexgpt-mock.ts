/**
 * Test support: a mock of Yandex Foundation Models' completion method in its wire format
 * (see yandexgpt-api-types.ts), with the answers of @kordon/mock-providers (the same echo,
 * tool calls and token counts) and the scenarios of provider-mock-server.ts.
 *
 * - `POST /foundationModels/v1/completion`; `Authorization: Api-Key <key>` or
 *   `Bearer <IAM token>`; the folder of `modelUri` must be the mock's.
 * - A streamed answer is NDJSON: one line per word, each with the whole text so far, status
 *   PARTIAL and the running usage; the last line has status FINAL (its terminator).
 * - Errors as Yandex writes them: `{ error: { grpcCode, httpCode, message, httpStatus, details } }`.
 *   An unknown key is quoted in the message, as Yandex does, so redaction can be tested.
 * - A 429 carries `retry-after` (whether Yandex sends one is not documented; the adapter
 *   reads it when present).
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
}

const MODEL_VERSION = '23.10.2024';

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

function usage(inputTokens: number, outputTokens: number) {
  return {
    inputTextTokens: String(inputTokens),
    completionTokens: String(outputTokens),
    totalTokens: String(inputTokens + outputTokens),
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

function streamLines(answer: Answer, omitUsage: boolean): string[] {
  const lines: string[] = [];
  if (answer.kind === 'text') {
    let sent = '';
    for (const word of answer.text.match(/\s*\S+/gu) ?? []) {
      sent += word;
      if (sent === answer.text) break;
      const partial = { message: { role: 'assistant', text: sent }, status: 'ALTERNATIVE_STATUS_PARTIAL' };
      lines.push(JSON.stringify(result(partial, usage(answer.inputTokens, countTokens(sent)), omitUsage)));
    }
  }
  lines.push(
    JSON.stringify(
      result(finalAlternative(answer), usage(answer.inputTokens, answer.outputTokens), omitUsage),
    ),
  );
  return lines.map((line) => `${line}\n`);
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
    if (body.completionOptions?.stream) {
      const frames = streamLines(answer, omitUsage);
      return {
        kind: 'stream',
        status: 200,
        contentType: 'application/json',
        frames,
        terminatorIndex: frames.length - 1,
      };
    }
    return {
      kind: 'json',
      status: 200,
      body: result(finalAlternative(answer), usage(answer.inputTokens, answer.outputTokens), omitUsage),
    };
  }, options);
}
