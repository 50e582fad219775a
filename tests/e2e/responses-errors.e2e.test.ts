import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const failedResponse = {
  id: 'resp_failed',
  object: 'response',
  created_at: 1,
  status: 'failed',
  model: 'gpt-4o-mini',
  error: { code: 'invalid_prompt', message: 'Invalid prompt: your prompt was flagged' },
  output: [],
  usage: {
    input_tokens: 12,
    output_tokens: 0,
    total_tokens: 12,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens_details: { reasoning_tokens: 0 },
  },
};

/** A Responses stream that ends as OpenAI ends a failed one: `response.failed`, then the end. */
const failedStream: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const events = [
    {
      type: 'response.created',
      response: { ...failedResponse, status: 'in_progress', error: null, usage: null },
    },
    {
      type: 'response.in_progress',
      response: { ...failedResponse, status: 'in_progress', error: null, usage: null },
    },
    { type: 'response.failed', response: failedResponse },
  ];
  for (const [n, event] of events.entries())
    res.write(`event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: n })}\n\n`);
  res.end();
};

/** OpenAI-dialect errors of the Responses API through Kordon, as the provider answers them. */
describe('Responses errors through Kordon', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  let openai: OpenAI;
  let direct: OpenAI;
  let handler: Handler = failedStream;

  before(async () => {
    server = createServer(async (req, res) => {
      for await (const _ of req) {
        // drain
      }
      handler(req, res);
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
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "sk-proj-errors-0123456789abcdef0123456789ab" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
    openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    direct = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-direct', maxRetries: 0 });
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  /**
   * `response.failed` is the Responses stream's own terminator for a failed response (its
   * `response.error` says why: invalid_prompt, server_error, rate_limit_exceeded,
   * vector_store_timeout...). Straight from the provider, the SDK's `responses.stream()`
   * helper resolves `finalResponse()` with `status: "failed"` and that error; through Kordon
   * it does the same (no error event of Kordon's after it, which the SDK would raise as a
   * transport-looking `stream_interrupted`), and the request is recorded failed for the
   * provider's reason, its reported usage charged.
   */
  it('a response.failed stream reaches the SDK as the provider sent it, recorded as the failure it names', async () => {
    handler = failedStream;
    const fromProvider = await direct.responses.stream({ model: 'gpt-4o-mini', input: 'Hi' }).finalResponse();
    assert.equal(fromProvider.status, 'failed');
    assert.equal(fromProvider.error?.code, 'invalid_prompt');

    let outcome: string;
    try {
      const viaKordon = await openai.responses.stream({ model: 'gpt-4o-mini', input: 'Hi' }).finalResponse();
      outcome = `resolved ${viaKordon.status} ${viaKordon.error?.code}`;
    } catch (error) {
      const e = error as { message?: string; code?: string };
      outcome = `rejected ${e.code}: ${e.message}`;
    }
    assert.equal(outcome, 'resolved failed invalid_prompt');

    const events = await gateway.requestEvents();
    const event = events.at(-1)!;
    assert.equal(event.type, 'RequestFailed');
    const data = event.data as {
      errorCode: string;
      usage: { inputTokens: number };
      cost: string | null;
      status: number | null;
      upstreamStatus: number | null;
    };
    // The provider refused the prompt: not a transport break a caller would retry.
    assert.equal(data.errorCode, 'upstream_rejected');
    // The stream had begun: no status of the request's own (the catalogue's), the provider's 200.
    assert.equal(data.status, null);
    assert.equal(data.upstreamStatus, 200);
    assert.equal(data.usage.inputTokens, 12);
    assert.ok(data.cost !== null && Number(data.cost) > 0, `cost ${data.cost}`);
  });

  /**
   * Without `stream`, OpenAI answers a failed response as a 200 whose body says it failed
   * (`status: "failed"`, `error.code`): the same outcome as the stream's `response.failed`, and
   * recorded so. It was recorded a RequestCompleted, a success in every report and error rate.
   */
  it('a failed response answered whole is recorded as the failure it names, as its stream is', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(failedResponse));
    };
    const answer = await openai.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    assert.equal(answer.status, 'failed');
    assert.equal(answer.error?.code, 'invalid_prompt');
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestFailed');
    const data = event.data as {
      errorCode: string;
      usage: { inputTokens: number };
      cost: string | null;
      status: number | null;
    };
    assert.equal(data.errorCode, 'upstream_rejected');
    assert.equal(data.status, 200);
    assert.equal(data.usage.inputTokens, 12);
    assert.ok(data.cost !== null && Number(data.cost) > 0, `cost ${data.cost}`);
  });

  /**
   * OpenAI's errors name the offending field in `param` (`{ error: { message, type, param,
   * code } }`, API reference "Error codes"; the SDK exposes it as `error.param`). A provider's
   * refusal passed through Kordon keeps it, with its status, type and code, so a caller can
   * tell which field of a large Responses body (a schema in `text.format`, one of many
   * `tools`) was refused; on Chat Completions as well.
   */
  it("a provider's 400 keeps its param", async () => {
    handler = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            message:
              "Invalid schema for response_format 'answer': 'additionalProperties' is required to be false.",
            type: 'invalid_request_error',
            param: 'text.format.schema',
            code: 'invalid_json_schema',
          },
        }),
      );
    };
    const request = {
      model: 'gpt-4o-mini',
      input: 'Hi',
      text: { format: { type: 'json_schema' as const, name: 'answer', schema: { type: 'object' } } },
    };
    const fromProvider = await direct.responses
      .create(request)
      .catch((e: InstanceType<typeof OpenAI.APIError>) => e);
    assert.ok(fromProvider instanceof OpenAI.BadRequestError);
    assert.equal(fromProvider.param, 'text.format.schema');
    const viaKordon = await openai.responses
      .create(request)
      .catch((e: InstanceType<typeof OpenAI.APIError>) => e);
    assert.ok(viaKordon instanceof OpenAI.BadRequestError);
    assert.equal(viaKordon.code, 'invalid_json_schema');
    assert.equal(viaKordon.param, 'text.format.schema');
    const chat = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: InstanceType<typeof OpenAI.APIError>) => e);
    assert.ok(chat instanceof OpenAI.BadRequestError);
    assert.equal(chat.param, 'text.format.schema');
  });
});
