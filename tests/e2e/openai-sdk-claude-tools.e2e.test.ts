/**
 * The official `openai` SDK (.parse(), runTools) calling Claude models through Kordon. The upstream
 * answers as Claude's Messages API does, including the 400s Claude gives for what it refuses:
 * - with `thinking` on, the last assistant turn of an open tool loop must start with a thinking
 *   block ("messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found
 *   `tool_use`. ... To avoid this requirement, disable `thinking`.", anomalyco/opencode#3077,
 *   Kilo-Org/kilocode#5219 on claude-sonnet-4-5 and claude-opus-4-5);
 * - structured outputs (`output_config.format`, and strict tools) refuse numeric and string
 *   constraints ("output_format.schema: For 'integer' type, property 'minimum' is not
 *   supported", agentjido/req_llm#302; @anthropic-ai/sdk's transformJSONSchema moves them into
 *   the description for that reason), which OpenAI's structured outputs accept.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const ANTHROPIC_KEY = 'sk-ant-api03-auditclaudegeminiabcdefghijklmn0';

type Body = Record<string, unknown>;
type Block = { type: string; [key: string]: unknown };
type Message = { role: string; content: string | Block[] };

const claudeError = (res: ServerResponse, message: string) => {
  res.writeHead(400, { 'content-type': 'application/json', 'request-id': 'req_audit' });
  res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message } }));
};

const UNSUPPORTED_CONSTRAINTS = [
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
];

/** The first constraint Claude's structured outputs refuse, as Claude names it; undefined when none. */
function refusedConstraint(schema: unknown): string | undefined {
  if (Array.isArray(schema)) {
    for (const item of schema) {
      const found = refusedConstraint(item);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof schema !== 'object' || schema === null) return undefined;
  const record = schema as Record<string, unknown>;
  for (const key of UNSUPPORTED_CONSTRAINTS)
    if (key in record) return `For '${String(record.type)}' type, property '${key}' is not supported`;
  for (const value of Object.values(record)) {
    const found = refusedConstraint(value);
    if (found) return found;
  }
  return undefined;
}

/** Claude's check of a thinking request whose last assistant turn holds tool_use. */
function thinkingHistoryError(body: Body): string | undefined {
  if (body.thinking === undefined || (body.thinking as { type?: string }).type === 'disabled')
    return undefined;
  const messages = body.messages as Message[];
  const lastAssistant = messages
    .map((m, i) => [m, i] as const)
    .filter(([m]) => m.role === 'assistant')
    .at(-1);
  if (!lastAssistant) return undefined;
  const [message, index] = lastAssistant;
  if (typeof message.content === 'string') return undefined;
  const hasToolUse = message.content.some((b) => b.type === 'tool_use');
  const first = message.content[0]?.type;
  if (hasToolUse && first !== 'thinking' && first !== 'redacted_thinking')
    return (
      `messages.${index}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first}\`. ` +
      'When `thinking` is enabled, a final `assistant` message must start with a thinking block ' +
      '(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include ' +
      'thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult ' +
      'our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking'
    );
  return undefined;
}

/** Claude's check of the tool call ids in the history (`^[a-zA-Z0-9_-]+$`), as it words the 400. */
function toolUseIdError(body: Body): string | undefined {
  for (const [index, message] of (body.messages as Message[]).entries()) {
    if (typeof message.content === 'string') continue;
    for (const [position, block] of message.content.entries()) {
      const field =
        block.type === 'tool_use' ? 'id' : block.type === 'tool_result' ? 'tool_use_id' : undefined;
      if (field && !/^[a-zA-Z0-9_-]+$/.test(String(block[field])))
        return `messages.${index}.content.${position}.${block.type}.${field}: String should match pattern '^[a-zA-Z0-9_-]+$'`;
    }
  }
  return undefined;
}

const message = (model: string, content: Block[], stop_reason: string) => ({
  id: `msg_audit_${Math.random().toString(36).slice(2)}`,
  type: 'message',
  role: 'assistant',
  model,
  content,
  stop_reason,
  stop_sequence: null,
  usage: { input_tokens: 20, output_tokens: 10 },
});

function answerAsClaude(body: Body, res: ServerResponse): void {
  const format = (body.output_config as { format?: { schema?: unknown } } | undefined)?.format;
  if (format?.schema !== undefined) {
    const refused = refusedConstraint(format.schema);
    if (refused) {
      claudeError(res, `output_config.format.schema: ${refused}`);
      return;
    }
  }
  for (const [index, tool] of (
    (body.tools ?? []) as { strict?: boolean; input_schema?: unknown }[]
  ).entries()) {
    const refused = tool.strict ? refusedConstraint(tool.input_schema) : undefined;
    if (refused) {
      claudeError(res, `tools.${index}.custom.input_schema: ${refused}`);
      return;
    }
  }
  const idError = toolUseIdError(body);
  if (idError) {
    claudeError(res, idError);
    return;
  }
  const thinkingError = thinkingHistoryError(body);
  if (thinkingError) {
    claudeError(res, thinkingError);
    return;
  }

  const model = String(body.model);
  const messages = body.messages as Message[];
  const last = messages.at(-1);
  const answeredTool =
    last !== undefined &&
    typeof last.content !== 'string' &&
    last.content.some((b) => b.type === 'tool_result');
  const thinking: Block[] =
    body.thinking !== undefined
      ? [{ type: 'thinking', thinking: 'Let me check the weather.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA' }]
      : [];
  res.writeHead(200, { 'content-type': 'application/json' });
  if (format?.schema !== undefined) {
    res.end(JSON.stringify(message(model, [...thinking, { type: 'text', text: '{"age":42}' }], 'end_turn')));
    return;
  }
  if (Array.isArray(body.tools) && body.tools.length > 0 && !answeredTool) {
    res.end(
      JSON.stringify(
        message(
          model,
          [
            ...thinking,
            { type: 'tool_use', id: 'toolu_01Audit', name: 'get_weather', input: { city: 'Paris' } },
          ],
          'tool_use',
        ),
      ),
    );
    return;
  }
  res.end(
    JSON.stringify(
      message(model, [...thinking, { type: 'text', text: 'It is sunny in Paris.' }], 'end_turn'),
    ),
  );
}

describe('openai SDK -> Kordon -> Claude: .parse() and runTools', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const bodies: Body[] = [];

  before(async () => {
    upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = text ? (JSON.parse(text) as Body) : {};
        bodies.push(body);
        answerAsClaude(body, res);
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
      - name: claude
        type: anthropic
        baseUrl: ${url}
        models: [claude-sonnet-4-5, claude-haiku-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { ANTHROPIC_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  const client = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });

  it('runTools with reasoning_effort on claude-sonnet-4-5 gets past the first tool call: the call answering the tool goes without thinking (the history has no thinking block to start the tool-use turn)', async () => {
    bodies.length = 0;
    const runner = client().chat.completions.runTools({
      model: 'claude-sonnet-4-5',
      reasoning_effort: 'low',
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: {
              type: 'object',
              properties: { city: { type: 'string' } },
              required: ['city'],
              additionalProperties: false,
            },
            function: (args: { city: string }) => `Sunny in ${args.city}`,
            parse: JSON.parse,
          },
        },
      ],
    });
    const content = await runner.finalContent();
    assert.equal(content, 'It is sunny in Paris.');
    assert.deepEqual(
      bodies.map((body) => body.thinking),
      [{ type: 'enabled', budget_tokens: 1024 }, undefined],
      'the first call thinks; the one continuing the tool loop does not',
    );
  });

  it('.parse() with a strict json_schema holding `minimum` (valid for OpenAI structured outputs) is answered by Claude, not refused', async () => {
    const completion = await client().chat.completions.parse({
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: 'How old is Ada? Answer as JSON.' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'person',
          strict: true,
          schema: {
            type: 'object',
            properties: { age: { type: 'integer', minimum: 0, maximum: 150 } },
            required: ['age'],
            additionalProperties: false,
          },
        },
      },
    });
    assert.deepEqual(completion.choices[0]?.message.parsed, { age: 42 });
  });

  it('a strict function tool whose parameters hold `maxLength` (valid for OpenAI strict tools) is sent to Claude in a form it accepts', async () => {
    const completion = await client().chat.completions.create({
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            strict: true,
            parameters: {
              type: 'object',
              properties: { city: { type: 'string', minLength: 1, maxLength: 100 } },
              required: ['city'],
              additionalProperties: false,
            },
          },
        },
      ],
    });
    assert.equal(completion.choices[0]?.finish_reason, 'tool_calls');
  });

  it("a history whose tool call ids hold characters Claude refuses (Kimi's `functions.get_weather:0`) is answered: each id goes as Claude takes it, the call and its result alike", async () => {
    bodies.length = 0;
    const completion = await client().chat.completions.create({
      model: 'claude-haiku-4-5',
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'functions.get_weather:0',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'functions.get_weather.0',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'functions.get_weather.0', content: 'Rainy in Rome' },
        { role: 'tool', tool_call_id: 'functions.get_weather:0', content: 'Sunny in Paris' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      ],
    });
    assert.equal(completion.choices[0]?.message.content, 'It is sunny in Paris.');
    const [assistant, results] = ((bodies[0]?.messages ?? []) as Message[]).slice(1) as [Message, Message];
    const callIds = (assistant.content as Block[]).map((block) => block.id);
    const resultIds = (results.content as Block[]).map((block) => block.tool_use_id);
    assert.equal(new Set(callIds).size, 2, 'the two ids stay apart');
    assert.deepEqual(resultIds, [callIds[1], callIds[0]], 'each result answers its own call');
  });
});
