/**
 * The Anthropic dialect through Kordon with the official `@anthropic-ai/sdk`, same dialect to
 * a scripted Claude upstream (its real wire format over real HTTP).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const ANTHROPIC_KEY = 'sk-ant-api03-dialecttestsabcdefghijklmnopq';

/** ~10 tokens of reasoning per delta. */
const THOUGHT = 'Let me weigh the next possibility carefully before I answer. ';
const THINKING_DELTAS = 400;

describe('Anthropic dialect, same dialect to Claude', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const received: Array<Record<string, unknown>> = [];

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        received.push(body);
        // Never answers: Kordon's first-byte timeout for its provider runs out first.
        if (body.model === 'claude-hangs') return;
        const sse = (type: string, data: unknown) =>
          res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
        if (body.stream === true) {
          // Extended thinking streamed, then the connection ends before message_stop.
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          sse('message_start', {
            type: 'message_start',
            message: {
              id: 'msg_dialect_think',
              type: 'message',
              role: 'assistant',
              model: 'claude-sonnet-4-5',
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: 30, output_tokens: 1 },
            },
          });
          sse('content_block_start', {
            type: 'content_block_start',
            index: 0,
            content_block: { type: 'thinking', thinking: '', signature: '' },
          });
          for (let i = 0; i < THINKING_DELTAS; i++)
            sse('content_block_delta', {
              type: 'content_block_delta',
              index: 0,
              delta: { type: 'thinking_delta', thinking: THOUGHT },
            });
          res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'msg_dialect',
            type: 'message',
            role: 'assistant',
            model: 'claude-sonnet-4-5',
            content: [{ type: 'text', text: 'done' }],
            stop_reason: 'end_turn',
            stop_sequence: null,
            usage: { input_tokens: 40, output_tokens: 1 },
          }),
        );
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
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
      - name: claude-slow
        type: anthropic
        baseUrl: ${url}
        models: [claude-hangs]
        timeouts: { firstByteMs: 300 }
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
    upstream?.close();
  });

  const client = () =>
    new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });

  it('an agent turn that sends back a tool_use whose input has a `base_url` argument is served, the input as sent', async () => {
    // A client tool whose schema has a base_url property: Claude called it, the SDK sends the
    // call back with its result. The arguments are the caller's data, not a host override.
    const before = received.length;
    const answer = await client()
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        tools: [
          {
            name: 'http_get',
            description: 'GET a path of an API',
            input_schema: {
              type: 'object',
              properties: { base_url: { type: 'string' }, path: { type: 'string' } },
              required: ['base_url', 'path'],
            },
          },
        ],
        messages: [
          { role: 'user', content: 'List the repos of octocat' },
          {
            role: 'assistant',
            content: [
              {
                type: 'tool_use',
                id: 'toolu_01',
                name: 'http_get',
                input: { base_url: 'https://api.github.com', path: '/users/octocat/repos' },
              },
            ],
          },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '[]' }] },
        ],
      })
      .catch((error: unknown) => error);
    assert.ok(
      !(answer instanceof Error),
      `refused: ${answer instanceof Anthropic.APIError ? `${answer.status} ${answer.message}` : String(answer)}`,
    );
    assert.equal(received.length, before + 1);
    const sent = received.at(-1)!.messages as Array<{ content: unknown }>;
    assert.deepEqual((sent[1]!.content as Array<{ input: unknown }>)[0]!.input, {
      base_url: 'https://api.github.com',
      path: '/users/octocat/repos',
    });
  });

  it('a Claude stream cut during extended thinking is charged the thinking tokens it streamed', async () => {
    const stream = client().messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 16_000,
      thinking: { type: 'enabled', budget_tokens: 10_000 },
      messages: [{ role: 'user', content: 'Think hard about this.' }],
    });
    let thinking = '';
    stream.on('thinking', (delta) => {
      thinking += delta;
    });
    await stream.finalMessage().catch(() => undefined);
    assert.equal(thinking.length, THOUGHT.length * THINKING_DELTAS, 'the caller got every thinking delta');
    const events = await gateway.requestEvents();
    const failed = events.filter((e) => e.type === 'RequestFailed').at(-1);
    assert.ok(failed && failed.type === 'RequestFailed', 'a RequestFailed event');
    const usage = failed.data.usage;
    // ~4,000 tokens of reasoning reached the caller; Claude bills thinking as output tokens.
    assert.ok(
      (usage?.outputTokens ?? 0) >= 2000,
      `outputTokens recorded: ${usage?.outputTokens} for ${thinking.length} characters of streamed thinking; cost ${failed.data.cost}`,
    );
  });

  it("Kordon's own errors carry the request's id in the body, as Anthropic's errors do", async () => {
    // Errors reference: {"type":"error","error":{...},"request_id":"req_..."}; the SDK's
    // ErrorResponse type has `request_id: string | null`, and its `requestID` is the header's.
    const unknown = await client()
      .messages.create({ model: 'claude-nope', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    assert.ok(unknown instanceof Anthropic.NotFoundError, String(unknown));
    assert.ok(unknown.requestID, 'a request-id header');
    assert.equal((unknown.error as { request_id?: unknown }).request_id, unknown.requestID);
    const counted = await client()
      .messages.countTokens({ model: 'claude-nope', messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    assert.ok(counted instanceof Anthropic.NotFoundError, String(counted));
    assert.equal((counted.error as { request_id?: unknown }).request_id, counted.requestID);
  });

  it('a provider that does not answer in time is a 504 timeout_error, as Anthropic names a 504', async () => {
    // Errors reference: "504 - timeout_error: The request timed out while processing."
    const late = await client()
      .messages.create({ model: 'claude-hangs', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    assert.ok(late instanceof Anthropic.APIError && late.status === 504, String(late));
    assert.equal(late.type, 'timeout_error');
    assert.equal((late.error as { error?: { type?: string } }).error?.type, 'timeout_error');
  });
});
