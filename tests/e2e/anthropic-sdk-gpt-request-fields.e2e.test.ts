/**
 * The official @anthropic-ai/sdk calling GPT models served by an `openai` provider.
 * The upstream here answers as OpenAI's Chat Completions API does, including the request
 * checks OpenAI applies (the 64-character limits on `user` and on function names, the
 * temperature and `stop` refusals of reasoning models, the o-series' refusal of
 * `parallel_tool_calls`, the strict-mode schema rules, at most 4 stop sequences, gpt-4o-mini's
 * 16,384 output tokens), and records each body it gets.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-auditgptfieldsabcdefghijklmnopqrstuv01';

const openAIError = (message: string, param: string, code: string) => ({
  error: { message, type: 'invalid_request_error', param, code },
});

/** What OpenAI refuses before running the model (messages as its API words them). */
function openAIRefusal(body: Record<string, unknown>): object | undefined {
  const user = body.user;
  if (typeof user === 'string' && user.length > 64)
    return openAIError(
      `Invalid 'user': string too long. Expected a string with maximum length 64, but got a string with length ${user.length} instead.`,
      'user',
      'string_above_max_length',
    );
  const tools = (body.tools ?? []) as {
    function: { name: string; strict?: boolean; parameters?: unknown };
  }[];
  for (const [i, tool] of tools.entries()) {
    if (tool.function.name.length > 64)
      return openAIError(
        `Invalid 'tools[${i}].function.name': string too long. Expected a string with maximum length 64, but got a string with length ${tool.function.name.length} instead.`,
        `tools[${i}].function.name`,
        'string_above_max_length',
      );
  }
  for (const [i, tool] of tools.entries()) {
    const problem = tool.function.strict === true ? strictSchemaProblem(tool.function.parameters) : undefined;
    if (problem)
      return openAIError(
        `Invalid schema for function '${tool.function.name}': In context=(), ${problem}.`,
        `tools[${i}].function.parameters`,
        'invalid_function_parameters',
      );
  }
  const model = String(body.model);
  const reasoning = /^(o\d|gpt-5)/.test(model);
  if (reasoning && body.temperature !== undefined && body.temperature !== 1)
    return openAIError(
      `Unsupported value: 'temperature' does not support ${String(body.temperature)} with this model. Only the default (1) value is supported.`,
      'temperature',
      'unsupported_value',
    );
  if (reasoning && body.stop !== undefined)
    return openAIError(
      "Unsupported parameter: 'stop' is not supported with this model.",
      'stop',
      'unsupported_parameter',
    );
  if (Array.isArray(body.stop) && body.stop.length > 4)
    return openAIError(
      `Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length ${body.stop.length} instead.`,
      'stop',
      'array_above_max_length',
    );
  const maxTokens = Number(body.max_completion_tokens ?? body.max_tokens);
  if (model === 'gpt-4o-mini' && maxTokens > 16_384)
    return openAIError(
      `max_tokens is too large: ${maxTokens}. This model supports at most 16384 completion tokens, whereas you provided ${maxTokens}.`,
      'max_tokens',
      'invalid_value',
    );
  // o-series: evalstate/fast-agent#279 (o4-mini), langchain-ai/langchain#29416 (o1), #29704 (o3-mini).
  if (/^o\d/.test(model) && 'parallel_tool_calls' in body)
    return openAIError(
      "Unsupported parameter: 'parallel_tool_calls' is not supported with this model.",
      'parallel_tool_calls',
      'unsupported_parameter',
    );
  return undefined;
}

/**
 * OpenAI's strict mode ("Supported schemas": additionalProperties false on every object, and
 * "all fields must be required"), checked at the root object as OpenAI words it.
 */
function strictSchemaProblem(parameters: unknown): string | undefined {
  const schema = (parameters ?? {}) as {
    properties?: Record<string, unknown>;
    required?: string[];
    additionalProperties?: unknown;
  };
  if (schema.additionalProperties !== false)
    return "'additionalProperties' is required to be supplied and to be false";
  const missing = Object.keys(schema.properties ?? {}).find((key) => !(schema.required ?? []).includes(key));
  if (missing !== undefined)
    return `'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'`;
  return undefined;
}

function completion(body: Record<string, unknown>): object {
  const tools = (body.tools ?? []) as { function: { name: string } }[];
  const call = tools[0];
  return {
    id: 'chatcmpl-audit',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: body.model,
    choices: [
      {
        index: 0,
        message: call
          ? {
              role: 'assistant',
              content: null,
              refusal: null,
              tool_calls: [
                {
                  id: 'call_audit1',
                  type: 'function',
                  function: { name: call.function.name, arguments: '{}' },
                },
              ],
            }
          : { role: 'assistant', content: 'Hello', refusal: null },
        finish_reason: call ? 'tool_calls' : 'stop',
      },
    ],
    usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
  };
}

describe('Anthropic SDK -> GPT (openai provider): request fields OpenAI checks', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const bodies: Record<string, unknown>[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        bodies.push(body);
        const refusal = openAIRefusal(body);
        if (refusal) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify(refusal));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(completion(body)));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${url}/v1
        models: [gpt-4o-mini, gpt-5, gpt-5.1, o4-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { OPENAI_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const client = () =>
    new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  const lastBody = () => bodies.at(-1)!;

  it("metadata.user_id as Claude Code sends it (~150 chars, Anthropic allows 256) goes as its sha256 hex, within OpenAI's 64 characters", async () => {
    // Claude Code's metadata.user_id: a JSON object of device, account and session ids.
    const userId = JSON.stringify({
      device_id: 'a3f1c9e2b7d84f0a9c6e5b1d2f3a4c5e6b7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f',
      account_uuid: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      session_id: '16fd2706-8baf-433b-82eb-8c7fada847da',
    });
    assert.ok(userId.length > 64 && userId.length <= 256);
    const message = await client().messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      metadata: { user_id: userId },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(message.content[0]?.type, 'text');
    assert.equal(lastBody().user, createHash('sha256').update(userId).digest('hex'));
  });

  it('temperature 0 (valid for Claude) is dropped for gpt-5, which refuses any temperature but 1', async () => {
    const message = await client().messages.create({
      model: 'gpt-5',
      max_tokens: 1024,
      ...({ temperature: 0 } as object),
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(message.content[0]?.type, 'text');
    assert.equal(lastBody().temperature, undefined);
  });

  it("max_tokens 32000 (Claude Code's) on gpt-4o-mini, which writes at most 16,384, is answered within that ceiling", async () => {
    const message = await client().messages.create(
      { model: 'gpt-4o-mini', max_tokens: 32_000, messages: [{ role: 'user', content: 'Hi' }] },
      // The SDK refuses a plain (not streamed) call this large unless given a timeout.
      { timeout: 60_000 },
    );
    assert.equal(message.content[0]?.type, 'text');
    assert.equal(lastBody().max_completion_tokens, 16_384);
  });

  it('stop_sequences on gpt-5 (which refuses stop) are a 400 naming stop_sequences, with no upstream call', async () => {
    const sent = bodies.length;
    const error = await client()
      .messages.create({
        model: 'gpt-5',
        max_tokens: 1024,
        stop_sequences: ['\nObservation:'],
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    assert.ok(error instanceof Anthropic.BadRequestError, String(error));
    assert.equal((error.error as { error?: { type?: string } }).error?.type, 'invalid_request_error');
    assert.match(error.message, /stop_sequences: gpt-5 is an OpenAI reasoning model/);
    assert.equal(bodies.length, sent, 'nothing sent upstream');
  });

  it('5 stop_sequences (Anthropic takes them; OpenAI at most 4) are a 400 naming stop_sequences, with no upstream call', async () => {
    const sent = bodies.length;
    const error = await client()
      .messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 100,
        stop_sequences: ['A', 'B', 'C', 'D', 'E'],
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    assert.ok(error instanceof Anthropic.BadRequestError, String(error));
    assert.match(error.message, /stop_sequences: gpt-4o-mini takes up to 4 stop sequences, not 5/);
    assert.equal(bodies.length, sent, 'nothing sent upstream');
  });

  it('disable_parallel_tool_use on o4-mini (which refuses parallel_tool_calls, even false) is answered, parallel_tool_calls not sent', async () => {
    const message = await client().messages.create({
      model: 'o4-mini',
      max_tokens: 1000,
      tools: [
        { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      ],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(lastBody().parallel_tool_calls, undefined);
  });

  it('thinking disabled on gpt-5 (which reasons at medium unless told, billed) is reasoning_effort minimal', async () => {
    await client().messages.create({
      model: 'gpt-5',
      max_tokens: 1024,
      thinking: { type: 'disabled' },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(lastBody().reasoning_effort, 'minimal', `upstream body: ${JSON.stringify(lastBody())}`);
  });

  it('thinking enabled (budget 8000) on gpt-5.1 (whose default effort is none: no reasoning) is reasoning_effort low', async () => {
    await client().messages.create({
      model: 'gpt-5.1',
      max_tokens: 16000,
      thinking: { type: 'enabled', budget_tokens: 8000 },
      messages: [{ role: 'user', content: 'Prove it' }],
    });
    assert.equal(lastBody().reasoning_effort, 'low', `upstream body: ${JSON.stringify(lastBody())}`);
  });

  it('a tool name of 65-128 characters (valid for Anthropic, refused by OpenAI over 64) goes shortened and is answered under its own name', async () => {
    // MCP tools as Claude Code names them: mcp__<server>__<tool>.
    const name = 'mcp__github_enterprise_server__list_pull_request_review_comments_for_repository';
    assert.ok(name.length > 64 && name.length <= 128);
    const message = await client().messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      tools: [{ name, input_schema: { type: 'object', properties: {} } }],
      messages: [{ role: 'user', content: 'List the review comments' }],
    });
    const block = message.content.find((b) => b.type === 'tool_use');
    assert.equal(block?.type === 'tool_use' ? block.name : undefined, name);
    const sent = (lastBody().tools as { function: { name: string } }[])[0]?.function.name ?? '';
    assert.ok(sent.length === 64 && sent.startsWith(name.slice(0, 55)), sent);
  });

  it('a strict tool with an optional property (valid for Claude, refused by OpenAI strict mode) goes without strict and is answered', async () => {
    const schema = {
      type: 'object' as const,
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city'],
      additionalProperties: false,
    };
    const message = await client().messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      tools: [
        { name: 'get_weather', strict: true, input_schema: schema },
        {
          name: 'get_time',
          strict: true,
          input_schema: { ...schema, required: ['city', 'unit'] },
        },
      ],
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    assert.equal(message.stop_reason, 'tool_use');
    const sent = lastBody().tools as { function: { name: string; strict?: boolean; parameters: unknown } }[];
    assert.equal(sent[0]?.function.strict, undefined, 'optional properties: not strict for OpenAI');
    assert.deepEqual(sent[0]?.function.parameters, schema, 'the schema goes as written');
    assert.equal(sent[1]?.function.strict, true, 'every property required: strict kept');
  });
});
