/**
 * An @anthropic-ai/sdk caller served by a Gemini provider. A capturing Gemini upstream (real
 * wire format) records each generateContent body; answers carry thoughtsTokenCount.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const GEMINI_KEY = 'AIzaSyDthinkingtestabcdefghijklmnopqrstu';

const usageMetadata = {
  promptTokenCount: 10,
  candidatesTokenCount: 5,
  thoughtsTokenCount: 300,
  totalTokenCount: 315,
};
const answer = {
  candidates: [
    {
      content: { role: 'model', parts: [{ text: 'thinking...', thought: true }, { text: 'Hello there' }] },
      finishReason: 'STOP',
      index: 0,
    },
  ],
  usageMetadata,
  responseId: 'r-thinking',
  modelVersion: 'gemini-2.5-flash',
};

describe('Anthropic SDK -> Gemini', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const bodies: Record<string, unknown>[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (part) => (body += part));
      req.on('end', () => {
        bodies.push(JSON.parse(body) as Record<string, unknown>);
        if (body.includes('TRIGGER_400')) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: { code: 400, message: 'Invalid value at thinking_budget', status: 'INVALID_ARGUMENT' },
            }),
          );
          return;
        }
        if (body.includes('TRIGGER_TOOLS') && req.url?.includes(':streamGenerateContent')) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const c = {
            candidates: [
              {
                content: {
                  role: 'model',
                  parts: [
                    { text: 'Calling' },
                    { functionCall: { name: 'get', args: { a: 1 } } },
                    { functionCall: { name: 'get', args: { a: 2 } } },
                  ],
                },
                finishReason: 'STOP',
                index: 0,
              },
            ],
            usageMetadata,
            responseId: 'r-t',
            modelVersion: 'gemini-2.5-flash',
          };
          res.end(`data: ${JSON.stringify(c)}\r\n\r\n`);
          return;
        }
        if (req.url?.includes(':streamGenerateContent')) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const thought = {
            candidates: [{ content: { role: 'model', parts: [{ text: 'hmm', thought: true }] }, index: 0 }],
            usageMetadata: { promptTokenCount: 10, thoughtsTokenCount: 300, totalTokenCount: 310 },
            responseId: 'r-thinking',
            modelVersion: 'gemini-2.5-flash',
          };
          const text1 = {
            candidates: [{ content: { role: 'model', parts: [{ text: 'Hello' }] }, index: 0 }],
            usageMetadata: {
              promptTokenCount: 10,
              candidatesTokenCount: 2,
              thoughtsTokenCount: 300,
              totalTokenCount: 312,
            },
            responseId: 'r-thinking',
            modelVersion: 'gemini-2.5-flash',
          };
          const last = {
            candidates: [
              { content: { role: 'model', parts: [{ text: ' there' }] }, finishReason: 'STOP', index: 0 },
            ],
            usageMetadata,
            responseId: 'r-thinking',
            modelVersion: 'gemini-2.5-flash',
          };
          for (const c of [thought, text1, last]) res.write(`data: ${JSON.stringify(c)}\r\n\r\n`);
          res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
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
      - name: google
        type: gemini
        baseUrl: ${url}
        models: [gemini-2.5-flash, gemini-2.5-pro]
        keys: [{ name: k1, secret: "\${GEMINI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { GEMINI_KEY },
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
  const generation = () => (bodies.at(-1)?.generationConfig ?? {}) as Record<string, unknown>;

  it('thinking disabled reaches Gemini 2.5 Flash as thinkingBudget 0 (else it thinks and bills thoughts as output)', async () => {
    const message = await client().messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 1024,
      thinking: { type: 'disabled' },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(message.content[0]?.type, 'text');
    assert.deepEqual(generation().thinkingConfig, { thinkingBudget: 0 });
  });

  it('thinking enabled with budget_tokens reaches Gemini as a thinkingBudget', async () => {
    await client().messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.deepEqual(generation().thinkingConfig, { thinkingBudget: 1024 });
  });

  it('thinking disabled on Gemini 2.5 Pro (cannot stop thinking) is a 400 naming `thinking`', async () => {
    await assert.rejects(
      client().messages.create({
        model: 'gemini-2.5-pro',
        max_tokens: 1024,
        thinking: { type: 'disabled' },
        messages: [{ role: 'user', content: 'Hi' }],
      }),
      (error) => error instanceof Anthropic.BadRequestError && /thinking/.test(error.message),
    );
  });

  it('fields: max_tokens, top_k, temperature 1.5, tool_choice none, metadata dropped, documents, tool_result image', async () => {
    const message = await client().messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 777,
      ...({ top_k: 7, temperature: 1.5 } as object),
      metadata: { user_id: 'u-1' },
      tools: [{ name: 'get', input_schema: { type: 'object', properties: {} } }],
      tool_choice: { type: 'none' },
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } },
            { type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain doc' } },
            { type: 'text', text: 'Read' },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'I should call get', signature: 'c2lnbmF0dXJl' },
            { type: 'tool_use', id: 'toolu_1', name: 'get', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_1',
              content: [
                { type: 'text', text: 'see image' },
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0K' } },
              ],
            },
          ],
        },
      ],
    });
    assert.equal(message.usage.output_tokens, 305, 'thoughts billed as output are in output_tokens');
    const body = bodies.at(-1)!;
    const text = JSON.stringify(body);
    assert.ok(!text.includes('u-1') && !('metadata' in body));
    assert.deepEqual(body.toolConfig, { functionCallingConfig: { mode: 'NONE' } });
    const g = generation();
    assert.equal(g.maxOutputTokens, 777);
    assert.equal(g.topK, 7);
    assert.equal(g.temperature, 1.5);
    assert.ok(text.includes('"inlineData":{"mimeType":"application/pdf"'));
    assert.ok(text.includes('"fileUri":"https://example.com/a.pdf"'));
    assert.ok(text.includes('plain doc'));
    assert.ok(!text.includes('I should call get') && !text.includes('c2lnbmF0dXJl'));
    assert.ok(text.includes('"inlineData":{"mimeType":"image/png"'));
  });

  it('stream: event order and final usage with thoughts', async () => {
    const stream = client().messages.stream({
      model: 'gemini-2.5-flash',
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalMessage();
    assert.deepEqual(types, [
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.output_tokens, 305);
    assert.equal(final.usage.input_tokens, 10);
  });

  it('a Gemini 400 reaches the Anthropic SDK as a BadRequestError', async () => {
    await assert.rejects(
      client().messages.create({
        model: 'gemini-2.5-flash',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'TRIGGER_400' }],
      }),
      (error) =>
        error instanceof Anthropic.BadRequestError && (error.error as { type?: string })?.type === 'error',
    );
  });

  it('stream with text and two parallel function calls', async () => {
    const stream = client().messages.stream({
      model: 'gemini-2.5-flash',
      max_tokens: 100,
      tools: [{ name: 'get', input_schema: { type: 'object', properties: {} } }],
      messages: [{ role: 'user', content: 'TRIGGER_TOOLS' }],
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    assert.deepEqual(
      final.content.map((b) => b.type),
      ['text', 'tool_use', 'tool_use'],
    );
    assert.deepEqual(
      final.content.slice(1).map((b) => (b as { input: unknown }).input),
      [{ a: 1 }, { a: 2 }],
    );
    assert.equal(final.usage.output_tokens, 305);
  });
});
