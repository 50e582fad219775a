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
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import type { KordonEvent } from '@kordon/events';
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
