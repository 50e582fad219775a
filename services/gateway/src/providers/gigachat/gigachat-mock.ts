/**
 * Test support: a mock of GigaChat in its wire format (see gigachat-api-types.ts), OAuth
 * included, with the answers of @kordon/mock-providers and the scenarios of
 * provider-mock-server.ts (the OAuth endpoint plays none).
 *
 * - `POST /api/v2/oauth`: `Authorization: Basic <authorization key>`, a UUID `RqUID`, a form
 *   body with a known scope; answers `{ access_token, expires_at }` (Unix ms, `tokenTtlMs` ahead).
 * - `POST /api/v1/chat/completions` and `GET /api/v1/models` want `Bearer <access token>` of a
 *   token that has not expired (nor been revoked with `revokeTokens()`); otherwise 401.
 * - Answers: GigaChat's shape (no id, `function_call` with object arguments and a
 *   `functions_state_id`, usage with `precached_prompt_tokens`); streams are SSE whose last
 *   chunk has the finish reason and usage, then `data: [DONE]` (the terminator).
 * - Errors `{ status, message }`; OAuth errors `{ code, message }`.
 */
import { randomUUID } from 'node:crypto';
import {
  type Answer,
  answerFor,
  type Conversation,
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

export interface GigaChatMockOptions extends MockHttpOptions {
  /** Authorization keys (base64 of client id and secret) the OAuth endpoint accepts. */
  readonly authKeys: readonly string[];
  /** Lifetime of issued tokens (default 30 minutes, as the real service). */
  readonly tokenTtlMs?: number;
  readonly now?: () => number;
}

export interface GigaChatMock extends MockHttpServer {
  /** Tokens issued so far. */
  readonly tokensIssued: number;
  /** Makes every issued token invalid, as if it had expired early. */
  revokeTokens(): void;
  /**
   * Ends the next text answers with this finish reason (`error`: the generation failed part
   * way; `blacklist`: the filter stopped it); undefined for the answer's own.
   */
  finishWith(reason: 'error' | 'blacklist' | undefined): void;
}

const MODEL_VERSION = 'GigaChat:2.0.28.2';
const SCOPES = new Set(['GIGACHAT_API_PERS', 'GIGACHAT_API_B2B', 'GIGACHAT_API_CORP']);
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const chatSchema = z.object({
  model: z.string(),
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'user', 'assistant', 'function']),
        content: z.string(),
        name: z.string().optional(),
      }),
    )
    .min(1),
  stream: z.boolean().optional(),
  max_tokens: z.number().int().optional(),
  // GigaChat answers 0 with 422 "Invalid params: temperature must be in range (0, +inf)".
  temperature: z.number().gt(0, 'temperature must be in range (0, +inf)').max(2).optional(),
  functions: z.array(z.object({ name: z.string(), parameters: z.unknown().optional() })).optional(),
});
type ChatRequest = z.infer<typeof chatSchema>;

function error(status: number, message: string, headers?: Record<string, string>): MockReply {
  return { kind: 'json', status, body: { status, message }, ...(headers ? { headers } : {}) };
}

function scenarioError(kind: MockErrorKind, retryAfterSeconds: number | undefined): MockReply {
  const retry = retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) };
  switch (kind) {
    case 'rate-limit':
      return error(429, 'Too Many Requests', { 'retry-after': String(retryAfterSeconds ?? 1) });
    case 'server-error':
      return error(500, 'Internal Server Error', retry);
    case 'unavailable':
    case 'overloaded':
      return error(503, 'Service Unavailable', retry);
    case 'unauthorized':
      return error(401, 'Unauthorized', retry);
    case 'forbidden':
      return error(403, 'Permission denied', retry);
    case 'context-overflow':
      // Its words for an overlong prompt are not in its public reference: not played.
      throw new Error('the GigaChat mock plays no context-overflow');
    default: {
      const unknown: never = kind;
      throw new Error(`no GigaChat error for ${String(unknown)}`);
    }
  }
}

function conversation(request: ChatRequest): Conversation {
  const last = request.messages.at(-1);
  const lastUser = request.messages.findLast((message) => message.role === 'user');
  return {
    lastTurn:
      last?.role === 'function'
        ? { kind: 'tool-result', text: last.content }
        : { kind: 'user', text: lastUser?.content ?? '' },
    promptTexts: request.messages.map((message) => message.content),
    messageCount: request.messages.length,
    tools: (request.functions ?? []).map((fn) => ({ name: fn.name, parameters: fn.parameters })),
    maxOutputTokens: request.max_tokens,
  };
}

function usage(answer: Answer) {
  return {
    prompt_tokens: answer.inputTokens,
    completion_tokens: answer.outputTokens,
    total_tokens: answer.inputTokens + answer.outputTokens,
    precached_prompt_tokens: 0,
  };
}

function finishReason(answer: Answer, forced: string | undefined): string {
  if (answer.kind === 'tool-call') return 'function_call';
  return forced ?? (answer.truncated ? 'length' : 'stop');
}

function message(answer: Answer) {
  if (answer.kind === 'text') return { content: answer.text, role: 'assistant' };
  return {
    content: '',
    role: 'assistant',
    function_call: { name: answer.toolName, arguments: JSON.parse(answer.argumentsJson) as unknown },
    functions_state_id: randomUUID(),
  };
}

function chunks(answer: Answer, created: number, omitUsage: boolean, forced: string | undefined): string[] {
  const base = { created, model: MODEL_VERSION, object: 'chat.completion' };
  const frame = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
  const frames: string[] = [];
  if (answer.kind === 'text') {
    for (const [index, word] of (answer.text.match(/\s*\S+/gu) ?? []).entries()) {
      const delta = index === 0 ? { content: word, role: 'assistant' } : { content: word };
      frames.push(frame({ ...base, choices: [{ delta, index: 0 }] }));
    }
    frames.push(
      frame({
        ...base,
        choices: [{ delta: { content: '' }, index: 0, finish_reason: finishReason(answer, forced) }],
        ...(omitUsage ? {} : { usage: usage(answer) }),
      }),
    );
  } else {
    const { content: _content, ...call } = message(answer);
    frames.push(
      frame({
        ...base,
        choices: [{ delta: { content: '', ...call }, index: 0, finish_reason: 'function_call' }],
        ...(omitUsage ? {} : { usage: usage(answer) }),
      }),
    );
  }
  frames.push('data: [DONE]\n\n');
  return frames;
}

export async function startGigaChatMock(options: GigaChatMockOptions): Promise<GigaChatMock> {
  const now = options.now ?? Date.now;
  const ttl = options.tokenTtlMs ?? 30 * 60_000;
  const tokens = new Map<string, number>();
  let issued = 0;
  let forcedFinish: string | undefined;

  const oauth = (request: MockRequest): MockReply => {
    const header = request.headers.authorization ?? '';
    const key = header.startsWith('Basic ') ? header.slice('Basic '.length) : '';
    if (!options.authKeys.includes(key)) {
      return { kind: 'json', status: 401, body: { code: 6, message: "credentials doesn't match db data" } };
    }
    const rqUid = request.headers.rquid;
    if (typeof rqUid !== 'string' || !UUID.test(rqUid)) {
      return {
        kind: 'json',
        status: 400,
        body: { code: 5, message: 'RqUID header is required and must be a UUID' },
      };
    }
    const scope = new URLSearchParams(request.rawBody).get('scope');
    if (
      request.headers['content-type'] !== 'application/x-www-form-urlencoded' ||
      !scope ||
      !SCOPES.has(scope)
    ) {
      return { kind: 'json', status: 400, body: { code: 7, message: 'scope is invalid' } };
    }
    issued += 1;
    const token = `gc-access-${issued}-${randomUUID()}`;
    const expiresAt = now() + ttl;
    tokens.set(token, expiresAt);
    return { kind: 'json', status: 200, body: { access_token: token, expires_at: expiresAt } };
  };

  const authorized = (request: MockRequest): boolean => {
    const header = request.headers.authorization ?? '';
    const expiresAt = header.startsWith('Bearer ') ? tokens.get(header.slice('Bearer '.length)) : undefined;
    return expiresAt !== undefined && now() < expiresAt;
  };

  const server = await startMockHttpServer(
    (request) => {
      if (request.method === 'POST' && request.path === '/api/v2/oauth') return oauth(request);
      if (!authorized(request)) return error(401, 'Unauthorized');
      const { scenario } = request;
      if (request.method === 'GET' && request.path === '/api/v1/models') {
        return {
          kind: 'json',
          status: 200,
          body: {
            object: 'list',
            data: ['GigaChat', 'GigaChat-Pro', 'GigaChat-Max'].map((id) => ({
              id,
              object: 'model',
              owned_by: 'salutedevices',
            })),
          },
        };
      }
      if (request.method !== 'POST' || request.path !== '/api/v1/chat/completions')
        return error(404, 'Not Found');
      if (scenario.error) return scenarioError(scenario.error, scenario.retryAfterSeconds);
      const parsed = chatSchema.safeParse(request.body);
      if (!parsed.success)
        return error(422, `Invalid params: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      const answer = answerFor(conversation(parsed.data), DEFAULT_REPLY_PREFIX);
      const created = Math.floor(now() / 1000);
      const omitUsage = scenario.omitUsage === true;
      if (parsed.data.stream) {
        const frames = chunks(answer, created, omitUsage, forcedFinish);
        return {
          kind: 'stream',
          status: 200,
          contentType: 'text/event-stream',
          frames,
          terminatorIndex: frames.length - 1,
          keepAliveFrame: ': ping\n\n',
        };
      }
      return {
        kind: 'json',
        status: 200,
        body: {
          choices: [
            { message: message(answer), index: 0, finish_reason: finishReason(answer, forcedFinish) },
          ],
          created,
          model: MODEL_VERSION,
          object: 'chat.completion',
          ...(omitUsage ? {} : { usage: usage(answer) }),
        },
      };
    },
    { ...options, playsScenario: (method, path) => !(method === 'POST' && path === '/api/v2/oauth') },
  );

  // Properties, not a spread: the server's own getters must stay live.
  return Object.defineProperties(server, {
    tokensIssued: { get: () => issued },
    revokeTokens: { value: () => tokens.clear() },
    finishWith: {
      value: (reason: string | undefined) => {
        forcedFinish = reason;
      },
    },
  }) as GigaChatMock;
}
