/**
 * Claude's web searches in a stream that does not reach its end are charged. Claude bills each
 * web search it runs ($10 per 1,000; platform.claude.com/docs/en/about-claude/pricing, "Web
 * search tool"; a search that fails is not billed: the web search tool page) and counts them
 * (`usage.server_tool_use`) only in the final `message_delta`. A stream shows each search as it
 * runs: a `server_tool_use` block, then its `web_search_tool_result` block with the results; a
 * stream cut before its end (the caller leaves, the upstream breaks) records in RequestFailed
 * the searches whose results came.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const ANTHROPIC_KEY = 'sk-ant-api03-streamsearchesabcdefghijklmno';

const sse = (res: ServerResponse, type: string, data: unknown) =>
  res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...(data as object) })}\n\n`);

/** One search as Claude streams it: the call, its query, its results (billed once they came). */
function search(res: ServerResponse, index: number, id: string): void {
  sse(res, 'content_block_start', {
    index,
    content_block: { type: 'server_tool_use', id, name: 'web_search', input: {} },
  });
  sse(res, 'content_block_delta', {
    index,
    delta: { type: 'input_json_delta', partial_json: '{"query":"kordon gateway release notes"}' },
  });
  sse(res, 'content_block_stop', { index });
  sse(res, 'content_block_start', {
    index: index + 1,
    content_block: {
      type: 'web_search_tool_result',
      tool_use_id: id,
      content: [
        {
          type: 'web_search_result',
          title: 'Release notes',
          url: 'https://example.com/notes',
          encrypted_content: 'EqgfCioIARgBIiQ3YTAwMjY1Mi1mZjM5',
          page_age: null,
        },
      ],
    },
  });
  sse(res, 'content_block_stop', { index: index + 1 });
}

describe("Claude's web searches in a stream cut before its end", () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as { model: string; messages: Array<{ content: string }> };
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        sse(res, 'message_start', {
          message: {
            id: 'msg_searching',
            type: 'message',
            role: 'assistant',
            model: body.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: {
              input_tokens: 2_000,
              cache_creation_input_tokens: 0,
              cache_read_input_tokens: 0,
              output_tokens: 1,
              service_tier: 'standard',
            },
          },
        });
        search(res, 0, 'srvtoolu_01');
        search(res, 2, 'srvtoolu_02');
        sse(res, 'content_block_start', { index: 4, content_block: { type: 'text', text: '' } });
        sse(res, 'content_block_delta', {
          index: 4,
          delta: { type: 'text_delta', text: 'According to the notes' },
        });
        if (body.messages[0]?.content === 'cut') {
          // The upstream connection breaks before message_delta and message_stop.
          res.end();
          return;
        }
        // Otherwise Claude goes on writing until the caller leaves.
        const more = setInterval(
          () => sse(res, 'content_block_delta', { index: 4, delta: { type: 'text_delta', text: ' and' } }),
          20,
        );
        res.on('close', () => clearInterval(more));
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

  const failedEvents = async () =>
    (await gateway.requestEvents()).filter(
      (e): e is Extract<typeof e, { type: 'RequestFailed' }> => e.type === 'RequestFailed',
    );

  const tools = [{ type: 'web_search_20250305' as const, name: 'web_search' as const, max_uses: 5 }];

  it('a caller leaving after two searches ran: RequestFailed records and charges both', async () => {
    const before = (await failedEvents()).length;
    const stream = await client().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      stream: true,
      tools,
      messages: [{ role: 'user', content: 'leave' }],
    });
    let results = 0;
    for await (const event of stream) {
      if (event.type === 'content_block_start' && event.content_block.type === 'web_search_tool_result')
        results++;
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') break; // the caller leaves
    }
    assert.equal(results, 2, 'the caller saw both searches run');
    let failed = await failedEvents();
    for (let i = 0; i < 200 && failed.length === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      failed = await failedEvents();
    }
    const event = failed.at(-1);
    assert.ok(event && failed.length > before, 'a RequestFailed event');
    assert.equal(event.data.errorCode, 'client_disconnected');
    assert.equal(
      event.data.usage?.webSearches,
      2,
      `recorded usage ${JSON.stringify(event.data.usage)} at cost ${event.data.cost}: the two searches Claude ran ($0.02)`,
    );
  });

  it('an upstream stream cut after two searches ran: RequestFailed records and charges both', async () => {
    const before = (await failedEvents()).length;
    const stream = client().messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      tools,
      messages: [{ role: 'user', content: 'cut' }],
    });
    await stream.finalMessage().catch(() => undefined);
    const failed = await failedEvents();
    const event = failed.at(-1);
    assert.ok(event && failed.length > before, 'a RequestFailed event');
    assert.equal(
      event.data.usage?.webSearches,
      2,
      `recorded usage ${JSON.stringify(event.data.usage)} at cost ${event.data.cost}: the two searches Claude ran ($0.02)`,
    );
  });
});
