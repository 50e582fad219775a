/**
 * The official @anthropic-ai/sdk against Kordon, translated to GPT (openai provider) and
 * Gemini: documented request fields and answer events. The upstream answers in each
 * provider's real wire format.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-auditsurfaceabcdefghijklmnopqrstuv01';
const GEMINI_KEY = 'AIzaSyDsurfacetestabcdefghijklmnopqrstu';

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;

const chunk = (delta: object, finish: string | null = null) => ({
  id: 'chatcmpl-forced',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, delta, finish_reason: finish }],
});

describe('Anthropic SDK -> GPT / Gemini: documented fields and events', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const bodies: Record<string, unknown>[] = [];
  let handle: Handler = (_req, _body, res) => {
    res.writeHead(500);
    res.end();
  };

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        bodies.push(body);
        handle(req, body, res);
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
        models: [gpt-4o-mini, gpt-5]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
      - name: google
        type: gemini
        baseUrl: ${url}
        models: [gemini-2.5-flash]
        keys: [{ name: k1, secret: "\${GEMINI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { OPENAI_KEY, GEMINI_KEY },
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

  const forcedTool = {
    model: 'gpt-4o-mini',
    max_tokens: 200,
    tools: [
      {
        name: 'record_summary',
        input_schema: { type: 'object' as const, properties: { title: { type: 'string' } } },
      },
    ],
    tool_choice: { type: 'tool' as const, name: 'record_summary' },
    messages: [{ role: 'user' as const, content: 'Summarise: the cat sat on the mat.' }],
  };

  // OpenAI answers a named (forced) tool_choice with the call and finish_reason "stop", not
  // "tool_calls" (its recorded answers in vllm-project/vllm#25054: named, stream or not: stop).
  // Claude answers tool_choice {type: tool} with stop_reason "tool_use", which agent loops test.
  it('a forced tool_choice {type: tool} answered by GPT (finish_reason stop with the call) has stop_reason tool_use', async () => {
    handle = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-forced',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-4o-mini',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: null,
                refusal: null,
                tool_calls: [
                  {
                    id: 'call_forced1',
                    type: 'function',
                    function: { name: 'record_summary', arguments: '{"title":"Cat on mat"}' },
                  },
                ],
              },
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 40, completion_tokens: 9, total_tokens: 49 },
        }),
      );
    };
    const message = await client().messages.create(forcedTool);
    assert.equal(message.content[0]?.type, 'tool_use');
    assert.equal(message.stop_reason, 'tool_use');
  });

  it('the same forced tool call streamed (OpenAI ends it with finish_reason stop): finalMessage() has stop_reason tool_use', async () => {
    handle = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const c of [
        chunk({ role: 'assistant', content: null }),
        chunk({
          tool_calls: [
            {
              index: 0,
              id: 'call_forced2',
              type: 'function',
              function: { name: 'record_summary', arguments: '' },
            },
          ],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"title":"Cat on mat"}' } }] }),
        chunk({}, 'stop'),
        {
          ...chunk({}),
          choices: [],
          usage: { prompt_tokens: 40, completion_tokens: 9, total_tokens: 49 },
        },
      ])
        res.write(`data: ${JSON.stringify(c)}\n\n`);
      res.end('data: [DONE]\n\n');
    };
    const message = await client().messages.stream(forcedTool).finalMessage();
    assert.deepEqual(message.content[0]?.type === 'tool_use' ? message.content[0].input : undefined, {
      title: 'Cat on mat',
    });
    assert.equal(message.stop_reason, 'tool_use');
  });

  // Gemini may fail a stream after it began with an error frame: 503 UNAVAILABLE "The model
  // is overloaded". Claude says the same mid-stream as an `overloaded_error` event, which
  // Claude Code retries (it tests the error for the type: the SDK's error for a stream event has
  // no status; up to @anthropic-ai/sdk 1.16 its message was the whole event, with
  // "type":"overloaded_error"); an `api_error` it does not.
  it('a Gemini stream failing with 503 UNAVAILABLE (overloaded) after its first chunk ends in an overloaded_error event', async () => {
    handle = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const first = {
        candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] }, index: 0 }],
        usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 1, totalTokenCount: 8 },
        responseId: 'r-overloaded',
        modelVersion: 'gemini-2.5-flash',
      };
      res.write(`data: ${JSON.stringify(first)}\r\n\r\n`);
      res.end(
        `data: ${JSON.stringify({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } })}\r\n\r\n`,
      );
    };
    const failure = await client()
      .messages.stream({
        model: 'gemini-2.5-flash',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Hello' }],
      })
      .finalMessage()
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    assert.ok(failure instanceof Anthropic.APIError, String(failure));
    // The error event's type, as the SDK reads it (from 1.17 its message is the event's message
    // with the type in brackets, no longer the whole event).
    assert.equal(failure.type, 'overloaded_error', `the caller's error event: ${failure.message}`);
    assert.equal((failure.error as { error?: { type?: string } }).error?.type, 'overloaded_error');
  });

  const answerJson = (res: ServerResponse, content: string) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-plain',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-5',
        choices: [
          { index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop' },
        ],
        usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 },
      }),
    );
  };
  const postMessages = (body: object) =>
    fetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': gateway.proxyKeys.get('dev@acme.test--dev')!,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });

  // `output_format` (structured outputs as first released, and as @anthropic-ai/sdk before its
  // output_config move sends it) is still accepted by Anthropic, deprecated for
  // output_config.format. Dropped when translated, the model would answer free text, and the
  // caller's JSON parse of it fail.
  it('the deprecated output_format json_schema reaches GPT as response_format json_schema', async () => {
    handle = (_req, _body, res) => answerJson(res, '{"answer":4}');
    const schema = {
      type: 'object',
      properties: { answer: { type: 'number' } },
      required: ['answer'],
      additionalProperties: false,
    };
    const answer = await postMessages({
      model: 'gpt-4o-mini',
      max_tokens: 200,
      output_format: { type: 'json_schema', schema },
      messages: [{ role: 'user', content: 'What is 2 + 2?' }],
    });
    assert.equal(answer.status, 200);
    const format = bodies.at(-1)?.response_format as { type?: string; json_schema?: { schema?: unknown } };
    assert.equal(format?.type, 'json_schema', `upstream body: ${JSON.stringify(bodies.at(-1))}`);
    assert.deepEqual(format.json_schema?.schema, schema);
  });

  // search_result blocks are client content (RAG results with a source and title, Anthropic's
  // "Search results" feature), top level or in tool results: text, as a text document is (the
  // whole request was once a 400 "messages.0.content: Invalid input").
  it('a search_result block (client-side search results) is served to GPT as text', async () => {
    handle = (_req, _body, res) => answerJson(res, 'The policy allows 30 days.');
    const answer = await postMessages({
      model: 'gpt-4o-mini',
      max_tokens: 200,
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'search_result',
              source: 'https://docs.example.com/returns',
              title: 'Return policy',
              content: [{ type: 'text', text: 'Items may be returned within 30 days of purchase.' }],
            },
            { type: 'text', text: 'How long do I have to return an item?' },
          ],
        },
      ],
    });
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.ok(JSON.stringify(bodies.at(-1)?.messages).includes('within 30 days'));
  });

  // `output_config.effort` is Claude's effort parameter (SDK 1.14 OutputConfig: low...max), the
  // counterpart of OpenAI's reasoning_effort; with adaptive thinking it is how Claude 4.6 is
  // told to think less. Reasoning is billed as output: dropped, gpt-5 would reason at its
  // default (medium).
  it('output_config.effort low with adaptive thinking reaches gpt-5 as reasoning_effort low', async () => {
    handle = (_req, _body, res) => answerJson(res, 'ok');
    await client().messages.create({
      model: 'gpt-5',
      max_tokens: 2000,
      thinking: { type: 'adaptive' },
      output_config: { effort: 'low' },
      messages: [{ role: 'user', content: 'What is 2 + 2?' }],
    });
    assert.equal(bodies.at(-1)?.reasoning_effort, 'low', `upstream body: ${JSON.stringify(bodies.at(-1))}`);
  });
});
