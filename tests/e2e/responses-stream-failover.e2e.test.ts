import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Wire = (req: IncomingMessage, res: ServerResponse, flaky: boolean) => Promise<void>;

const usage = {
  input_tokens: 9,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: 3,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 12,
};
const response = (status: string, output: unknown[], withUsage: boolean) => ({
  id: 'resp_failover',
  object: 'response',
  created_at: 1,
  status,
  error: null,
  incomplete_details: null,
  model: 'gpt-4o-mini',
  output,
  usage: withUsage ? usage : null,
});
const message = (text: string, status: string) => ({
  id: 'msg_failover',
  type: 'message',
  status,
  role: 'assistant',
  content: text === '' ? [] : [{ type: 'output_text', text, annotations: [] }],
});
const at = { item_id: 'msg_failover', output_index: 0, content_index: 0 };
const part = (text: string) => ({ type: 'output_text', text, annotations: [] });

/** A Responses stream's opening events, as OpenAI sends them, up to its first text delta. */
const opening = [
  { type: 'response.created', response: response('in_progress', [], false) },
  { type: 'response.in_progress', response: response('in_progress', [], false) },
  { type: 'response.output_item.added', output_index: 0, item: message('', 'in_progress') },
  { type: 'response.content_part.added', ...at, part: part('') },
  { type: 'response.output_text.delta', ...at, delta: 'hello' },
];
/** The rest of a whole answer, "hello there". */
const closing = [
  { type: 'response.output_text.delta', ...at, delta: ' there' },
  { type: 'response.output_text.done', ...at, text: 'hello there' },
  { type: 'response.content_part.done', ...at, part: part('hello there') },
  { type: 'response.output_item.done', output_index: 0, item: message('hello there', 'completed') },
  {
    type: 'response.completed',
    response: response('completed', [message('hello there', 'completed')], true),
  },
];
const sse = (events: object[], from = 0) =>
  events
    .map((event, n) => {
      const type = (event as { type: string }).type;
      return `event: ${type}\ndata: ${JSON.stringify({ ...event, sequence_number: from + n })}\n\n`;
    })
    .join('');
const whole = sse([...opening, ...closing]);

/** A provider (two keys, one flaky) for each case: what one case teaches the balancer stays there. */
const MODELS = ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-4o'];

/**
 * The Responses API streamed through Kordon by the official SDK, from a provider whose streams
 * fail. A stream that fails before anything reached the caller (a reset right after the 200, an
 * error event first, an end with no event) is a failed attempt, as an error status is: the next
 * key serves (docs/architecture.md, the request path, 6 and 7). After that the caller's stream
 * ends with an error event, and the key is held to what broke it.
 */
describe('Responses streams that fail or end short, through Kordon', () => {
  let upstream: Server;
  let k: KordonUnderTest;
  let openai: OpenAI;
  let wire: Wire = async (_req, res) => {
    res.writeHead(500);
    res.end();
  };
  const used: string[] = [];

  before(async () => {
    upstream = createServer(async (req, res) => {
      for await (const _ of req) {
        // body
      }
      const flaky = String(req.headers.authorization).includes('flaky');
      used.push(flaky ? 'flaky' : 'healthy');
      await wire(req, res, flaky).catch(() => {});
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    k = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
${MODELS.map(
  (model, n) => `      - name: openai-${n}
        type: openai
        baseUrl: ${base}/v1
        models: [${model}]
        keys:
          - { name: k1, secret: "sk-proj-flakykey${n}0123456789abcdef012345678" }
          - { name: k2, secret: "sk-proj-healthykey${n}0123456789abcdef0123456" }
`,
).join('')}    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`);
    openai = new OpenAI({
      baseURL: `${k.url}/v1`,
      apiKey: k.proxyKeys.get('dev@acme.test--laptop')!,
      maxRetries: 0,
    });
  });
  after(async () => {
    await k?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  /** Four streamed answers by `responses.stream().finalResponse()`: what each came to. */
  async function fourRuns(model: string): Promise<string[]> {
    used.length = 0;
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        const final = await openai.responses.stream({ model, input: 'hi' }).finalResponse();
        outcomes.push(`${final.status}: ${final.output_text}`);
      } catch (error) {
        outcomes.push(`raised: ${String(error).slice(0, 160)}`);
      }
    }
    return outcomes;
  }

  const served = [
    'completed: hello there',
    'completed: hello there',
    'completed: hello there',
    'completed: hello there',
  ];

  it('a key whose streams reset right after the 200, before any event: the next key serves', async () => {
    wire = async (_req, res, flaky) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (!flaky) return void res.end(whole);
      res.flushHeaders();
      await sleep(20);
      res.socket?.resetAndDestroy();
    };
    const outcomes = await fourRuns(MODELS[0]!);
    assert.ok(used.includes('flaky'), `the flaky key was asked: ${used.join(',')}`);
    assert.deepEqual(outcomes, served, `keys asked in turn: ${used.join(',')}`);
  });

  it('a key whose streams open with an error event (the reference ResponseErrorEvent): the next key serves', async () => {
    wire = async (_req, res, flaky) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (!flaky) return void res.end(whole);
      const error = {
        type: 'error',
        code: 'server_error',
        message: 'The server had an error while processing your request.',
        param: null,
      };
      res.end(sse([error]));
    };
    const outcomes = await fourRuns(MODELS[1]!);
    assert.ok(used.includes('flaky'), `the flaky key was asked: ${used.join(',')}`);
    assert.deepEqual(outcomes, served, `keys asked in turn: ${used.join(',')}`);
  });

  it('a key whose streams end with no event at all: the next key serves', async () => {
    wire = async (_req, res, flaky) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(flaky ? '' : whole);
    };
    const outcomes = await fourRuns(MODELS[2]!);
    assert.ok(used.includes('flaky'), `the flaky key was asked: ${used.join(',')}`);
    assert.deepEqual(outcomes, served, `keys asked in turn: ${used.join(',')}`);
  });

  it("a stream rate-limited after its first text: the caller's SDK raises, the tokens streamed are charged, and the key rests", async () => {
    // Both keys fail so, wherever the rotation starts: the first request's key must rest.
    wire = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const limited = {
        type: 'error',
        code: 'rate_limit_exceeded',
        message: 'Rate limit reached for gpt-4o-mini on tokens per min (TPM).',
        param: null,
      };
      res.end(sse([...opening, limited]));
    };
    const before = (await k.allEvents()).filter((e) => e.type === 'ProviderKeyCooledDown').length;
    used.length = 0;
    let text = '';
    let raised: unknown;
    const { data: stream, response: head } = await openai.responses
      .create({ model: MODELS[3]!, input: 'hi', stream: true })
      .withResponse();
    try {
      for await (const event of stream) if (event.type === 'response.output_text.delta') text += event.delta;
    } catch (error) {
      raised = error;
    }
    assert.equal(text, 'hello');
    assert.ok(raised instanceof OpenAI.APIError, `the SDK raised: ${String(raised)}`);
    assert.equal(used.length, 1, 'the answer had begun: no other key is asked');
    const requestId = head.headers.get('x-request-id');
    let event: KordonEvent | undefined;
    for (let i = 0; i < 40 && event === undefined; i++) {
      event = (await k.requestEvents()).find(
        (e) => (e.data as { requestId?: string }).requestId === requestId,
      );
      if (event === undefined) await sleep(50);
    }
    assert.equal(event?.type, 'RequestFailed');
    const data = event!.data as { errorCode: string; usage: { inputTokens: number; outputTokens: number } };
    assert.equal(data.errorCode, 'stream_interrupted');
    assert.ok(data.usage.outputTokens >= 1, 'the text streamed is charged');
    const cooled = (await k.allEvents()).filter((e) => e.type === 'ProviderKeyCooledDown');
    assert.equal(cooled.length - before, 1, 'the rate-limited key rests, as after a 429');
  });
  it("the provider's error event after the first text ends the stream alone: no second one of Kordon's", async () => {
    const limited = {
      type: 'error',
      code: 'rate_limit_exceeded',
      message: 'Rate limit reached for gpt-4o-mini on tokens per min (TPM).',
      param: null,
    };
    wire = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(sse([...opening, limited]));
    };
    const answer = await fetch(`${k.url}/v1/responses`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${k.proxyKeys.get('dev@acme.test--laptop')!}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ model: MODELS[2]!, input: 'hi', stream: true }),
    });
    const text = await answer.text();
    assert.equal(text.match(/^event: error$/gm)?.length, 1, text);
    assert.match(text, /event: error\ndata: \{"type":"error","code":"rate_limit_exceeded"[^\n]*\n\n$/);
  });

  /**
   * `response.incomplete` ends a stream as `response.completed` does (the SDK's finalResponse
   * resolves with `status: "incomplete"` and `incomplete_details`), and its `usage` is what the
   * provider billed: charged as reported, cached input at its rate and reasoning as output.
   */
  it('a stream cut by max_output_tokens (response.incomplete) is recorded complete and charged its usage', async () => {
    const billed = {
      input_tokens: 1000,
      input_tokens_details: { cached_tokens: 400 },
      output_tokens: 500,
      output_tokens_details: { reasoning_tokens: 200 },
      total_tokens: 1500,
    };
    const incomplete = {
      type: 'response.incomplete',
      response: {
        ...response('incomplete', [message('hello', 'incomplete')], false),
        incomplete_details: { reason: 'max_output_tokens' },
        usage: billed,
      },
    };
    wire = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(sse([...opening, incomplete]));
    };
    const seen = (await k.requestEvents()).length;
    const final = await openai.responses
      .stream({ model: MODELS[0]!, input: 'hi', max_output_tokens: 500 })
      .finalResponse();
    assert.equal(final.status, 'incomplete');
    assert.equal(final.incomplete_details?.reason, 'max_output_tokens');
    let event: KordonEvent | undefined;
    for (let i = 0; i < 40 && event === undefined; i++) {
      event = (await k.requestEvents())[seen];
      if (event === undefined) await sleep(50);
    }
    assert.equal(event?.type, 'RequestCompleted');
    const data = event!.data as {
      usage: {
        inputTokens: number;
        cachedInputTokens: number;
        outputTokens: number;
        reasoningTokens?: number;
      };
      cost: string | null;
    };
    assert.equal(data.usage.inputTokens, 1000);
    assert.equal(data.usage.cachedInputTokens, 400);
    assert.equal(data.usage.outputTokens, 500);
    assert.equal(data.usage.reasoningTokens, 200);
    // gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output a million tokens.
    assert.equal(Number(data.cost), (600 * 0.15 + 400 * 0.075 + 500 * 0.6) / 1_000_000);
  });
});
