/**
 * Claude ends a stream that fails after it began with an `error` event (Anthropic's streaming
 * guide: "error events", overloaded_error the common one). A same-dialect caller gets that event
 * as Claude sent it, and the stream ends there: not a second error event of Kordon's after it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const KEY = 'sk-ant-api03-streamerrorabcdefghijklmnopqrs';
const sse = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const OPENING =
  sse('message_start', {
    type: 'message_start',
    message: {
      id: 'msg_err',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 1 },
    },
  }) +
  sse('content_block_start', {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  }) +
  sse('content_block_delta', {
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text: 'Hello there' },
  });
const CLAUDE_ERROR = sse('error', {
  type: 'error',
  error: { type: 'overloaded_error', message: 'Overloaded' },
});

describe('a Claude stream failing with an error event, to an Anthropic caller', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', async () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(OPENING);
        // The error in a later read than the text: the answer had begun (committed).
        await new Promise((resolve) => setTimeout(resolve, 30));
        res.end(CLAUDE_ERROR);
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
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  it("gets Claude's error event as sent, and no second error event after it", async () => {
    const answer = await fetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': gateway.proxyKeys.get('dev@acme.test--dev')!,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 100,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), OPENING + CLAUDE_ERROR);
    const failed = (await gateway.requestEvents()).filter((e) => e.type === 'RequestFailed').at(-1);
    assert.ok(failed && failed.type === 'RequestFailed', 'a RequestFailed event');
    assert.equal(failed.data.usage?.inputTokens, 12);
  });
});

describe('an OpenAI stream failing with an error chunk, to an OpenAI caller', () => {
  const OPENAI_KEY = 'sk-proj-streamerrorabcdefghijklmnopqrstuvw';
  const chunk = (content: string) =>
    `data: ${JSON.stringify({
      id: 'chatcmpl-err',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    })}\n\n`;
  const OPENAI_ERROR = `data: ${JSON.stringify({
    error: { message: 'The server had an error while processing your request.', type: 'server_error' },
  })}\n\n`;
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', async () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('Hello'));
        await new Promise((resolve) => setTimeout(resolve, 30));
        res.end(OPENAI_ERROR);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${url}
        models: [gpt-4o-mini]
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

  it("gets the provider's error chunk as sent, and no second error chunk after it", async () => {
    const answer = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gateway.proxyKeys.get('dev@acme.test--dev')!}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), chunk('Hello') + OPENAI_ERROR);
    const failed = (await gateway.requestEvents()).filter((e) => e.type === 'RequestFailed').at(-1);
    assert.ok(failed && failed.type === 'RequestFailed', 'a RequestFailed event');
  });
});
