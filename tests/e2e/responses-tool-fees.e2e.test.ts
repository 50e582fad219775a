import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const usage = {
  input_tokens: 100,
  output_tokens: 50,
  total_tokens: 150,
  input_tokens_details: { cached_tokens: 40 },
  output_tokens_details: { reasoning_tokens: 20 },
};

/*
 * gpt-4o-mini's tokens above cost 60 x 0.15 + 40 x 0.075 + 50 x 0.60 per million = $0.000042;
 * the costs below add the tool calls to it.
 */

/**
 * A Responses answer that ran OpenAI's built-in tools: two web searches (billed apiece), a
 * page opened (no billed call), a file search (billed apiece), then the message.
 */
const answer = {
  id: 'resp_ws',
  object: 'response',
  created_at: 1,
  status: 'completed',
  model: 'gpt-4o-mini',
  output: [
    {
      type: 'web_search_call',
      id: 'ws_1',
      status: 'completed',
      action: { type: 'search', query: 'kordon a' },
    },
    {
      type: 'web_search_call',
      id: 'ws_2',
      status: 'completed',
      action: { type: 'search', query: 'kordon b' },
    },
    {
      type: 'web_search_call',
      id: 'ws_3',
      status: 'completed',
      action: { type: 'open_page', url: 'https://a.test' },
    },
    { type: 'file_search_call', id: 'fs_1', status: 'completed', queries: ['kordon'], results: null },
    {
      type: 'message',
      id: 'msg_1',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'found it', annotations: [] }],
    },
  ],
  usage,
};

/**
 * OpenAI bills each call of the Responses API's built-in `web_search` tool apiece ($10 per
 * 1,000 calls; $25 on `web_search_preview` with non-reasoning models) and of `file_search`
 * ($2.50 per 1,000), on top of the tokens (pricing page, "Built-in tools"). Kordon records the
 * searches (`usage.webSearches`, as Claude's) and prices every call, plain and streamed; a
 * tool it cannot price (code_interpreter, billed per container) is refused under a USD budget.
 */
describe('OpenAI Responses built-in tool fees', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  let asked: number;

  const client = (key: string) =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get(`dev@acme.test--${key}`)!,
      maxRetries: 0,
    });
  const lastEvent = async () => (await gateway.requestEvents()).at(-1)!;
  const recorded = async () => {
    const event = await lastEvent();
    assert.equal(event.type, 'RequestCompleted');
    return event.data as { usage: { webSearches?: number }; cost: string | null };
  };

  before(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      asked++;
      const body = JSON.parse(text) as { stream?: boolean };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events = [
        { type: 'response.created', response: { ...answer, status: 'in_progress', output: [], usage: null } },
        ...answer.output.flatMap((item, output_index) => [
          { type: 'response.output_item.added', output_index, item },
          { type: 'response.output_item.done', output_index, item },
        ]),
        { type: 'response.completed', response: answer },
      ];
      for (const [n, event] of events.entries())
        res.write(`event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: n })}\n\n`);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${url}/v1
        models: [gpt-4o-mini, gpt-4o-search-preview]
        keys: [{ name: k1, secret: "sk-proj-tools-0123456789abcdef0123456789abc" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: dev }
          - { name: budget, limits: { budget: { usd: 5, period: 1d } } }
`);
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  it('the searches of a Responses answer are recorded and priced apiece, a page opened is not a search', async () => {
    const reply = await client('dev').responses.create({
      model: 'gpt-4o-mini',
      input: 'search the web for kordon',
      tools: [{ type: 'web_search' }, { type: 'file_search', vector_store_ids: ['vs_1'] }],
    });
    assert.equal(reply.output.filter((item) => item.type === 'web_search_call').length, 3);
    const data = await recorded();
    assert.equal(data.usage.webSearches, 2);
    // 2 web searches at $10 and 1 file search at $2.50 a thousand, on top of the tokens.
    assert.equal(data.cost, '0.022542');
  });

  it("a streamed answer's searches are charged from its response.completed", async () => {
    const final = await client('dev')
      .responses.stream({ model: 'gpt-4o-mini', input: 'search', tools: [{ type: 'web_search' }] })
      .finalResponse();
    assert.equal(final.status, 'completed');
    const data = await recorded();
    assert.equal(data.usage.webSearches, 2);
    assert.equal(data.cost, '0.022542');
  });

  it('web_search_preview on a non-reasoning model: $25 a thousand', async () => {
    await client('dev').responses.create({
      model: 'gpt-4o-mini',
      input: 'search',
      tools: [{ type: 'web_search_preview' }],
    });
    const data = await recorded();
    assert.equal(data.usage.webSearches, 2);
    assert.equal(data.cost, '0.052542');
  });

  it('under a USD budget, a tool whose fee cannot be priced is refused before any provider is asked; searches are served', async () => {
    asked = 0;
    const refused = await client('budget')
      .responses.create({
        model: 'gpt-4o-mini',
        input: 'plot it',
        tools: [{ type: 'code_interpreter', container: { type: 'auto' } }],
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.PermissionDeniedError, String(refused));
    assert.match(refused.message, /code_interpreter tool is billed per container/);
    const rejected = await lastEvent();
    assert.equal(rejected.type, 'RequestRejected');
    assert.equal((rejected.data as { reason: string }).reason, 'budget_usd');
    assert.equal(asked, 0);

    // Chat Completions' web search: its answer does not say how many searches ran.
    const chat = await client('budget')
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'news?' }],
        web_search_options: {},
      })
      .catch((error: unknown) => error);
    assert.ok(chat instanceof OpenAI.PermissionDeniedError, String(chat));
    assert.match(chat.message, /web_search_options/);
    assert.equal(asked, 0);

    // Without a budget the same request is served (and priced by what can be priced).
    await client('dev').responses.create({
      model: 'gpt-4o-mini',
      input: 'plot it',
      tools: [{ type: 'code_interpreter', container: { type: 'auto' } }],
    });
    assert.equal(asked, 1);
    // Searches are priced: served under the budget, their fees charged to it.
    await client('budget').responses.create({
      model: 'gpt-4o-mini',
      input: 'search',
      tools: [{ type: 'web_search' }],
    });
    assert.equal(asked, 2);
    assert.equal((await recorded()).cost, '0.022542');
  });
});
