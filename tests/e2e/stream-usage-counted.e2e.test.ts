/**
 * A streamed OpenAI chat whose provider reports no usage (Azure OpenAI before api-version
 * 2024-09-01, OpenAI-compatible servers that ignore `stream_options`): Kordon counts the tokens
 * with its tokenizer, and a caller that asked for `stream_options.include_usage` gets the usage
 * chunk OpenAI's reference promises ("an additional chunk ... before the data: [DONE]
 * message"), with the tokens it is charged.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** An Azure-shaped upstream whose streams report no usage: two content chunks, then [DONE]. */
async function startUpstream(): Promise<{ server: Server; url: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    let text = '';
    req.on('data', (part) => (text += part));
    req.on('end', () => {
      const body = JSON.parse(text) as { model?: string };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: unknown, finish: string | null) =>
        res.write(
          `data: ${JSON.stringify({ id: 'chatcmpl-nousage', object: 'chat.completion.chunk', created: 1, model: body.model ?? 'gpt-4o-mini-2024-07-18', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
        );
      chunk({ role: 'assistant', content: 'Hello there' }, null);
      chunk({ content: ' friend' }, 'stop');
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

describe('stream usage the provider does not report', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gateway: KordonUnderTest;
  before(async () => {
    upstream = await startUpstream();
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: azure
        type: azure-openai
        baseUrl: ${upstream.url}
        apiVersion: "2024-06-01"
        deployments: { gpt-4o-mini: mini-prod }
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "0123456789abcdef0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.server.close();
  });

  const openai = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  const lastCompleted = async () => {
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') throw new Error('not completed');
    return event.data;
  };

  it('stream_options.include_usage gets its usage chunk, the tokens Kordon counted and charged', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const usages: OpenAI.CompletionUsage[] = [];
    let text = '';
    let last: OpenAI.ChatCompletionChunk | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usages.push(chunk.usage);
      last = chunk;
    }
    assert.equal(text, 'Hello there friend');
    assert.ok(
      upstream.paths.some((path) => path.includes('/deployments/mini-prod/')),
      'the call reached the deployment',
    );
    const event = await lastCompleted();
    assert.equal(event.usage.outputTokens, 3, 'Kordon counted the streamed answer');
    // One usage chunk, the last, with no choices, as OpenAI sends it.
    assert.equal(usages.length, 1);
    assert.deepEqual(last?.choices, []);
    assert.equal(last?.id, 'chatcmpl-nousage');
    assert.deepEqual(
      [usages[0]!.prompt_tokens, usages[0]!.completion_tokens, usages[0]!.total_tokens],
      [event.usage.inputTokens, event.usage.outputTokens, event.usage.inputTokens + event.usage.outputTokens],
    );
  });

  it('a stream that did not ask for usage gets no usage chunk', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    for await (const chunk of stream) {
      assert.equal(chunk.usage ?? undefined, undefined);
      assert.equal(chunk.choices.length, 1);
    }
    assert.equal((await lastCompleted()).usage.outputTokens, 3);
  });

  it("a prompt Kordon's estimator cannot read is still charged: its prompt counted as text, its answer counted", async () => {
    // `true` is a JSON Schema (any value), which the provider takes; the estimator reads a
    // property as an object. Before, such a request was recorded with 0 tokens and cost 0.
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Look up the weather in Paris' }],
      tools: [
        {
          type: 'function',
          function: { name: 'lookup', parameters: { type: 'object', properties: { query: true } } },
        },
      ],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    const event = await lastCompleted();
    assert.equal(event.usage.outputTokens, 3, 'the answer counted');
    assert.ok(event.usage.inputTokens >= 7, `the prompt counted: ${event.usage.inputTokens} tokens`);
    assert.ok(Number(event.cost) > 0, `cost ${event.cost}`);
    assert.equal(usage?.prompt_tokens, event.usage.inputTokens, 'the caller is shown what it is charged');
  });

  it("null optional fields are fields not given: a reply written back as Python's model_dump() writes it is counted as without them", async () => {
    const charged = async (body: Record<string, unknown>) => {
      const stream = await openai().chat.completions.create({
        ...body,
        model: 'gpt-4o-mini',
        stream: true,
      } as OpenAI.ChatCompletionCreateParamsStreaming);
      for await (const _ of stream);
      return (await lastCompleted()).usage;
    };
    const reply = { role: 'assistant', content: 'Hello there friend' };
    const messages = (assistant: Record<string, unknown>) => [
      { role: 'user', content: 'Hi' },
      assistant,
      { role: 'user', content: 'And again' },
    ];
    const plain = await charged({ messages: messages(reply) });
    // `ChatCompletionMessage.model_dump()` in the openai Python SDK, and `tools=None`.
    const dumped = await charged({
      messages: messages({ ...reply, refusal: null, function_call: null, tool_calls: null, audio: null }),
      tools: null,
    });
    assert.ok(plain.inputTokens > 0);
    assert.deepEqual(dumped, plain);
  });
});
