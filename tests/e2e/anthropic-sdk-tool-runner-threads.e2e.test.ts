/**
 * The Anthropic SDK's tool runner (`client.beta.messages.toolRunner`) through Kordon. From
 * @anthropic-ai/sdk 1.14 it runs over a message thread by default: its first turn asks Claude to
 * hold the conversation (`thread: {type: "create"}`, beta `message-threads-2026-08-12`) and each
 * later turn sends only its new messages (`thread: {type: "continue", previous_message_id}`).
 * Another provider holds no such thread: a GPT asked the second turn as sent would get the tool
 * result alone. Kordon refuses `thread` for such a model as Claude refuses a request it cannot
 * thread (400 `invalid_request_error`, `error.details.error_code: "thread_unsupported_request"`),
 * which the runner answers by sending that turn and the later ones in full, without `thread`.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import type { KordonEvent } from '@kordon/events';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';
import { startThreeDialects, type ThreeDialects } from './support/three-dialects.js';

type Body = Record<string, unknown>;
type ChatMessage = { role: string; content?: unknown; tool_calls?: unknown[]; tool_call_id?: string };

const weather = (answer: string) =>
  betaTool({
    name: 'get_weather',
    description: 'The weather in a city',
    inputSchema: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
    run: ({ city }) => `${answer} in ${city}`,
  });

describe('Anthropic SDK tool runner (message threads) -> Kordon', () => {
  let setup: ThreeDialects;
  const anthropic = () =>
    new Anthropic({ apiKey: setup.proxyKey, baseURL: setup.gateway.url, maxRetries: 0 });
  const eventsSince = async (count: number): Promise<KordonEvent[]> =>
    (await setup.gateway.requestEvents()).slice(count);

  before(async () => {
    setup = await startThreeDialects({
      openai: 'sk-proj-toolrunnerthreadsabcdefghijklmno01',
      anthropic: 'sk-ant-api03-toolrunnerthreadsabcdefghijk01',
      gemini: 'AIzaSyToolRunnerThreadsabcdefghijklmnop',
    });
  });
  after(async () => {
    await setup?.stop();
  });

  for (const stream of [false, true]) {
    it(`on GPT${stream ? ', streamed' : ''}: the turn answering the tool reaches GPT with the whole conversation, and each call is recorded once`, async () => {
      const before = (await setup.gateway.requestEvents()).length;
      const gptCalls = setup.openaiMock.requests.length;
      const runner = anthropic().beta.messages.toolRunner({
        model: 'gpt-4o-mini',
        max_tokens: 200,
        stream,
        messages: [{ role: 'user', content: 'call get_weather Paris' }],
        tools: [weather('sunny')],
      });
      const final = await runner.runUntilDone();
      assert.deepEqual(
        final.content.map((block) => block.type === 'text' && block.text),
        ['Mock reply: tool result: sunny in Paris'],
      );

      const sent = setup.openaiMock.requests.slice(gptCalls).map((r) => r.body as Body);
      assert.equal(sent.length, 2, 'GPT is asked twice: the call, then the answer to its result');
      const answering = sent[1]!.messages as ChatMessage[];
      assert.deepEqual(
        answering.map((m) => m.role),
        ['user', 'assistant', 'tool'],
        'the tool result follows the call it answers, after the question',
      );
      assert.equal(answering[1]!.tool_calls?.length, 1);
      assert.equal(answering[2]!.content, 'sunny in Paris');

      const events = await eventsSince(before);
      const completed = events.filter((e) => e.type === 'RequestCompleted');
      assert.equal(completed.length, 2, 'each answered call is recorded once');
      for (const event of completed) {
        assert.ok(event.type === 'RequestCompleted');
        assert.equal(event.data.model, 'gpt-4o-mini');
        assert.equal(event.data.stream, stream);
        assert.ok(event.data.usage.inputTokens > 0 && event.data.usage.outputTokens > 0);
        assert.ok(Number(event.data.cost) > 0);
      }
      // The threaded first turn, refused before any provider was asked, is recorded as refused.
      const refused = events.filter((e) => e.type === 'RequestRejected');
      assert.equal(refused.length, 1);
      assert.ok(refused[0]!.type === 'RequestRejected' && refused[0]!.data.reason === 'invalid_request');
      assert.equal(events.length, 3);
    });
  }

  it("a request naming a thread, to GPT: Claude's thread_unsupported_request, no provider asked", async () => {
    const gptCalls = setup.openaiMock.requests.length;
    for (const thread of [
      { type: 'create' as const },
      { type: 'continue' as const, previous_message_id: 'msg_01XFDUDYJgAACzvnptvVoYEL' },
    ]) {
      const refusal = await anthropic()
        .beta.messages.create({
          model: 'gpt-4o-mini',
          max_tokens: 50,
          messages: [{ role: 'user', content: 'hello' }],
          thread,
        })
        .then(
          () => assert.fail('answered'),
          (error: unknown) => error,
        );
      assert.ok(refusal instanceof Anthropic.BadRequestError, String(refusal));
      const body = refusal.error as { error: { type: string; message: string; details?: unknown } };
      assert.equal(body.error.type, 'invalid_request_error');
      assert.deepEqual(body.error.details, { error_code: 'thread_unsupported_request' });
      assert.match(body.error.message, /`thread`/);
    }
    assert.equal(setup.openaiMock.requests.length, gptCalls, 'no provider was asked');
  });

  it('on Claude: the thread is passed on, each later turn continuing from the reply before', async () => {
    const claudeCalls = setup.anthropicMock.requests.length;
    const final = await anthropic()
      .beta.messages.toolRunner({
        model: 'claude-sonnet-4-5',
        max_tokens: 200,
        messages: [{ role: 'user', content: 'call get_weather Rome' }],
        tools: [weather('rainy')],
      })
      .runUntilDone();
    assert.match(JSON.stringify(final.content), /tool result: rainy in Rome/);
    const sent = setup.anthropicMock.requests.slice(claudeCalls).map((r) => r.body as Body);
    assert.equal(sent.length, 2);
    assert.deepEqual(sent[0]!.thread, { type: 'create' });
    const continued = sent[1]!.thread as { type: string; previous_message_id: string };
    assert.equal(continued.type, 'continue');
    assert.match(continued.previous_message_id, /^msg_/);
  });
});

/**
 * Claude refusing a thread, as its API does: the reason is in `error.details.error_code`, which
 * the SDK reads to recover (Anthropic's ThreadNotFoundError and ThreadUnsupportedRequestError):
 * a lost thread (404 `thread_not_found`: expired, or held by another account than the key's)
 * is replayed in full under a new thread, and a request Claude cannot thread (400
 * `thread_unsupported_request`: `thinking`, `cache_control`...) is sent in full without one.
 */
describe('Anthropic SDK tool runner -> Kordon -> Claude refusing the thread', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const bodies: Body[] = [];
  let ids = 0;
  const anthropic = () =>
    new Anthropic({
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      baseURL: gateway.url,
      maxRetries: 0,
    });
  const answer = (res: ServerResponse, status: number, body: object) => {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${++ids}` });
    res.end(JSON.stringify(body));
  };
  const refusal = (type: string, message: string, details: object) => ({
    type: 'error',
    error: { type, message, details },
    request_id: `req_${ids}`,
  });
  const message = (content: object[], stopReason: string) => ({
    id: `msg_threads${++ids}`,
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: { input_tokens: 30, output_tokens: 10 },
  });

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as Body;
        bodies.push(body);
        const thread = body.thread as { type: string } | undefined;
        const messages = body.messages as { role: string; content: unknown }[];
        if (thread && body.thinking !== undefined)
          return answer(
            res,
            400,
            refusal('invalid_request_error', '`thread` does not support `thinking`.', {
              error_code: 'thread_unsupported_request',
              unsupported: ['thinking'],
            }),
          );
        if (thread?.type === 'continue')
          return answer(
            res,
            404,
            refusal('not_found_error', 'No thread state was found for previous_message_id.', {
              error_code: 'thread_not_found',
            }),
          );
        const last = messages.at(-1)!;
        if (Array.isArray(last.content) && (last.content as { type: string }[])[0]?.type === 'tool_result')
          return answer(
            res,
            200,
            message([{ type: 'text', text: `${messages.length} messages seen` }], 'end_turn'),
          );
        return answer(
          res,
          200,
          message(
            [{ type: 'tool_use', id: `toolu_${ids}`, name: 'get_weather', input: { city: 'Oslo' } }],
            'tool_use',
          ),
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
      - name: anthropic
        type: anthropic
        baseUrl: ${url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { ANTHROPIC_KEY: 'sk-ant-api03-threadrefusalsabcdefghijklmno01' },
    );
  });
  after(async () => {
    await gateway?.stop();
    await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  });

  it('a lost thread (404 thread_not_found) reaches the caller with its error_code: the runner replays the conversation in full', async () => {
    const from = bodies.length;
    const final = await anthropic()
      .beta.messages.toolRunner({
        model: 'claude-sonnet-4-5',
        max_tokens: 200,
        messages: [{ role: 'user', content: 'the weather in Oslo?' }],
        tools: [weather('snowy')],
      })
      .runUntilDone();
    assert.deepEqual(final.content, [{ type: 'text', text: '3 messages seen' }]);
    const sent = bodies.slice(from);
    assert.deepEqual(
      sent.map((b) => (b.thread as { type: string }).type),
      ['create', 'continue', 'create'],
      'the lost thread is replayed under a new one',
    );
    assert.equal((sent[2]!.messages as unknown[]).length, 3, 'the replay carries the whole conversation');
  });

  it('a request Claude cannot thread (400 thread_unsupported_request) reaches the caller with its details: the runner goes on without a thread', async () => {
    const from = bodies.length;
    const final = await anthropic()
      .beta.messages.toolRunner({
        model: 'claude-sonnet-4-5',
        max_tokens: 2000,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'the weather in Oslo?' }],
        tools: [weather('snowy')],
      })
      .runUntilDone();
    assert.deepEqual(final.content, [{ type: 'text', text: '3 messages seen' }]);
    const sent = bodies.slice(from);
    assert.deepEqual(
      sent.map((b) => b.thread === undefined),
      [false, true, true],
      'sent again, and on, without a thread',
    );
    const refused = await anthropic()
      .beta.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 2000,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'hi' }],
        thread: { type: 'create' },
      })
      .then(
        () => assert.fail('answered'),
        (error: unknown) => error,
      );
    assert.ok(refused instanceof Anthropic.BadRequestError);
    assert.deepEqual((refused.error as { error: { details?: unknown } }).error.details, {
      error_code: 'thread_unsupported_request',
      unsupported: ['thinking'],
    });
  });
});
