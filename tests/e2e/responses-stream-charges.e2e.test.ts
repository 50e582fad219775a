import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;

/** 1,000 tokens in and out: gpt-4o-2024-05-13 is $5 / $15 per million ($0.02), gpt-4o $2.50 / $10 ($0.0125). */
const usage = {
  input_tokens: 1000,
  output_tokens: 1000,
  total_tokens: 2000,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens_details: { reasoning_tokens: 0 },
};

/** A Responses answer as Azure sends it: `model` names the version the deployment runs. */
const azureResponse = (status: string, withUsage: boolean) => ({
  id: 'resp_azure_1',
  object: 'response',
  created_at: 1,
  status,
  model: 'gpt-4o-2024-05-13',
  output:
    status === 'completed'
      ? [
          {
            type: 'message',
            id: 'msg_1',
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'hello', annotations: [] }],
          },
        ]
      : [],
  usage: withUsage ? usage : null,
});

describe('Responses API through Kordon: what a stream that never finishes is charged', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  let handler: Handler;

  const client = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  const eventOf = async (requestId: string | null): Promise<KordonEvent> => {
    const found = (await gateway.requestEvents()).find(
      (e) => (e.data as { requestId?: string }).requestId === requestId,
    );
    assert.ok(found, `an event for ${requestId}`);
    return found;
  };

  before(async () => {
    server = createServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      handler(req, text ? JSON.parse(text) : {}, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: azure
        type: azure-openai
        baseUrl: ${url}/azure
        apiVersion: 2025-04-01-preview
        models: [gpt4o-prod]
        keys: [{ name: k1, secret: "azure-key-0123456789abcdef0123456789" }]
      - name: openai
        type: openai
        baseUrl: ${url}/v1
        models: [o4-mini]
        keys: [{ name: k1, secret: "sk-proj-audit-0123456789abcdef0123456789ab" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }, { name: budget, limits: { budget: { usd: 100, period: 1d } } }]
`);
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  /**
   * An Azure deployment bills the model version it runs, which its answer names: a deployment
   * configured under its own name (`gpt4o-prod`, which no price lists) is priced by the
   * `gpt-4o-2024-05-13` its answers name (azure-deployments.e2e.test.ts), plain, and streamed once
   * the stream's terminator came. A Responses stream names the model on its first event
   * (`response.created`), but the exchange reads it only from the terminator
   * (openai-only-exchanges.ts `terminated`): a caller that leaves mid-stream is recorded with
   * `cost: null` for the tokens it was streamed, which the provider bills (a chat stream's model
   * is read from its first chunk, stream-translator.ts, and priced).
   */
  it('an Azure Responses stream the caller leaves is priced by the model version its first event names', async () => {
    let stalled: ServerResponse | undefined;
    handler = (_req, body, res) => {
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(azureResponse('completed', true)));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events = [
        { type: 'response.created', response: azureResponse('in_progress', false) },
        { type: 'response.in_progress', response: azureResponse('in_progress', false) },
        {
          type: 'response.output_text.delta',
          item_id: 'msg_1',
          output_index: 0,
          content_index: 0,
          delta: 'hello there, this is a long answer in the making',
          logprobs: [],
        },
      ];
      for (const [n, event] of events.entries())
        res.write(`event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: n })}\n\n`);
      stalled = res; // the rest never comes: the caller leaves
    };
    const openai = client();
    const plain = await openai.responses.create({ model: 'gpt4o-prod', input: 'hi' }).withResponse();
    const plainEvent = await eventOf(plain.response.headers.get('x-request-id'));
    assert.equal((plainEvent.data as { cost: unknown }).cost, '0.02', 'plain: the version Azure names');

    const streamed = await openai.responses
      .create({ model: 'gpt4o-prod', input: 'hi', stream: true })
      .withResponse();
    const requestId = streamed.response.headers.get('x-request-id');
    for await (const event of streamed.data) if (event.type === 'response.output_text.delta') break;
    let event: KordonEvent | undefined;
    for (let i = 0; i < 50 && !event; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      event = (await gateway.requestEvents()).find(
        (e) => (e.data as { requestId?: string }).requestId === requestId,
      );
    }
    stalled?.end();
    assert.ok(event, 'the left stream is recorded');
    assert.equal(event.type, 'RequestFailed');
    const data = event.data as { errorCode: string; usage: { outputTokens: number }; cost: string | null };
    assert.equal(data.errorCode, 'client_disconnected');
    assert.ok(data.usage.outputTokens > 0);
    assert.notEqual(
      data.cost,
      null,
      'the tokens streamed are priced at gpt-4o-2024-05-13, as the plain answer is',
    );
  });

  /**
   * A reasoning model's Responses stream streams what it thinks as
   * `response.reasoning_summary_text.delta` (and `response.reasoning_text.delta`) before any
   * output text; those tokens are billed as output (reasoning tokens). A stream cut (or left)
   * then is charged "the tokens streamed" counted with a tokenizer (docs/architecture.md, step 7:
   * Claude's thinking included), but the Responses exchange counts only
   * `RESPONSES_OUTPUT_DELTAS` (output text, refusal, function arguments): the reasoning the caller
   * was streamed is charged nothing, and a budget never sees it.
   */
  it('a Responses stream cut during its reasoning summary charges the reasoning streamed', async () => {
    const summary =
      'First I consider the question carefully, then weigh each option against the others. '.repeat(20);
    handler = (_req, _body, res) => {
      const response = {
        id: 'resp_reason_1',
        object: 'response',
        created_at: 1,
        status: 'in_progress',
        model: 'o4-mini',
        output: [],
        usage: null,
      };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events = [
        { type: 'response.created', response },
        { type: 'response.in_progress', response },
        {
          type: 'response.output_item.added',
          output_index: 0,
          item: { type: 'reasoning', id: 'rs_1', summary: [] },
        },
        {
          type: 'response.reasoning_summary_part.added',
          item_id: 'rs_1',
          output_index: 0,
          summary_index: 0,
          part: { type: 'summary_text', text: '' },
        },
        {
          type: 'response.reasoning_summary_text.delta',
          item_id: 'rs_1',
          output_index: 0,
          summary_index: 0,
          delta: summary,
        },
      ];
      for (const [n, event] of events.entries())
        res.write(`event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: n })}\n\n`);
      setTimeout(() => res.destroy(), 50); // the provider's connection breaks
    };
    const openai = client();
    const streamed = await openai.responses
      .create({ model: 'o4-mini', input: 'hi', stream: true, reasoning: { summary: 'auto' } })
      .withResponse();
    const requestId = streamed.response.headers.get('x-request-id');
    let reasoning = '';
    try {
      for await (const event of streamed.data)
        if (event.type === 'response.reasoning_summary_text.delta') reasoning += event.delta;
    } catch {
      // the SDK raises the stream's interruption
    }
    assert.equal(reasoning, summary, 'the caller was streamed the reasoning');
    const event = await eventOf(requestId);
    assert.equal(event.type, 'RequestFailed');
    const data = event.data as { errorCode: string; usage: { outputTokens: number } };
    assert.equal(data.errorCode, 'stream_interrupted');
    assert.ok(data.usage.outputTokens >= 200, `output tokens charged: ${data.usage.outputTokens}`);
  });

  /**
   * Every event of a Responses stream carries `sequence_number`, counting up from 0
   * (ResponseErrorEvent included). The error event Kordon ends a broken stream with had none: a
   * client ordering or de-duplicating events by it found a hole at the stream's last event.
   */
  it('the error event that ends a broken Responses stream follows on the sequence numbers', async () => {
    handler = (_req, _body, res) => {
      const response = { id: 'resp_seq_1', object: 'response', created_at: 1, status: 'in_progress' };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events = [
        { type: 'response.created', response: { ...response, model: 'o4-mini', output: [] } },
        { type: 'response.in_progress', response: { ...response, model: 'o4-mini', output: [] } },
        {
          type: 'response.output_text.delta',
          item_id: 'msg_1',
          output_index: 0,
          content_index: 0,
          delta: 'Hel',
        },
      ];
      for (const [n, event] of events.entries())
        res.write(`event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: n })}\n\n`);
      setTimeout(() => res.destroy(), 50); // the provider's connection breaks
    };
    const answer = await fetch(`${gateway.url}/v1/responses`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gateway.proxyKeys.get('dev@acme.test--dev')!}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ model: 'o4-mini', input: 'hi', stream: true }),
    });
    assert.equal(answer.status, 200);
    const frames = (await answer.text()).split('\n\n').filter((frame) => frame.startsWith('event: '));
    const numbers = frames.map(
      (frame) => JSON.parse(frame.slice(frame.indexOf('data: ') + 6)).sequence_number,
    );
    assert.equal(frames.at(-1)?.split('\n')[0], 'event: error');
    assert.deepEqual(numbers, [0, 1, 2, 3]);
  });

  /**
   * A follow-up (`previous_response_id`) is billed the stored conversation it continues as
   * input (docs/limits.md), which its body does not carry. A follow-up stream the caller stops
   * before `response.completed` (a chat UI's "stop") was charged its own new input only, counted
   * from the body: the 2,000 tokens of the conversation the provider read and billed were lost.
   */
  it('a follow-up stream the caller leaves is charged the stored conversation it continues', async () => {
    let stalled: ServerResponse | undefined;
    handler = (_req, body, res) => {
      const response = (status: string, withUsage: boolean) => ({
        id: body.previous_response_id ? 'resp_follow_2' : 'resp_follow_1',
        object: 'response',
        created_at: 1,
        status,
        model: 'o4-mini',
        output: [],
        usage: withUsage ? usage : null,
      });
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(response('completed', true)));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events = [
        { type: 'response.created', response: response('in_progress', false) },
        {
          type: 'response.output_text.delta',
          item_id: 'msg_1',
          output_index: 0,
          content_index: 0,
          delta: 'the answer begins',
          logprobs: [],
        },
      ];
      for (const [n, event] of events.entries())
        res.write(`event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: n })}\n\n`);
      stalled = res; // the rest never comes: the caller leaves
    };
    const openai = client();
    const first = await openai.responses.create({ model: 'o4-mini', input: 'hi' });
    assert.equal(first.id, 'resp_follow_1');
    const streamed = await openai.responses
      .create({ model: 'o4-mini', input: 'go on', previous_response_id: first.id, stream: true })
      .withResponse();
    const requestId = streamed.response.headers.get('x-request-id');
    for await (const event of streamed.data) if (event.type === 'response.output_text.delta') break;
    let event: KordonEvent | undefined;
    for (let i = 0; i < 50 && !event; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      event = (await gateway.requestEvents()).find(
        (e) => (e.data as { requestId?: string }).requestId === requestId,
      );
    }
    stalled?.end();
    assert.ok(event, 'the left stream is recorded');
    const data = event.data as { errorCode: string; usage: { inputTokens: number } };
    assert.equal(data.errorCode, 'client_disconnected');
    assert.ok(
      data.usage.inputTokens > 2000,
      `the 2,000 tokens of the conversation and its own input: ${data.usage.inputTokens}`,
    );
  });

  /**
   * A plain request its caller leaves while the provider has it is charged its prompt where a
   * budget holds it (generate.ts `promptOfAbandonedCall`): the provider bills it answered or
   * not. A follow-up's prompt includes the stored conversation it continues, which was left out.
   */
  it('a plain follow-up the caller leaves is charged the stored conversation under a budget', async () => {
    handler = (_req, body, res) => {
      if (body.previous_response_id) return; // the provider works on: the caller leaves first
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'resp_plain_1',
          object: 'response',
          created_at: 1,
          status: 'completed',
          model: 'o4-mini',
          output: [],
          usage,
        }),
      );
    };
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--budget')!,
      maxRetries: 0,
    });
    const first = await openai.responses.create({ model: 'o4-mini', input: 'hi' });
    const before = (await gateway.requestEvents()).length;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(
      openai.responses.create(
        { model: 'o4-mini', input: 'go on', previous_response_id: first.id },
        { signal: controller.signal },
      ),
      (error: unknown) => error instanceof OpenAI.APIUserAbortError,
    );
    let event: KordonEvent | undefined;
    for (let i = 0; i < 50 && !event; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const events = await gateway.requestEvents();
      if (events.length > before && events.at(-1)?.type === 'RequestFailed') event = events.at(-1);
    }
    assert.ok(event, 'the left request is recorded');
    const data = event.data as { errorCode: string; usage: { inputTokens: number } };
    assert.equal(data.errorCode, 'client_disconnected');
    assert.ok(
      data.usage.inputTokens > 2000,
      `the 2,000 tokens of the conversation and its own input: ${data.usage.inputTokens}`,
    );
  });
});
