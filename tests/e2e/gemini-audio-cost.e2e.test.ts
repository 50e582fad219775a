/**
 * An OpenAI SDK caller's `input_audio` part reaches Gemini as inlineData, and Gemini bills the
 * AUDIO part of the prompt above text (2.5 Flash: $1.00 per million audio input tokens, $0.30
 * text; ai.google.dev/gemini-api/docs/pricing). The RequestCompleted event's cost prices the
 * audio its usageMetadata reports (promptTokensDetails) at the audio rate, answered whole or
 * streamed.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const GEMINI_KEY = 'AIzaSyDaudiocostabcdefghijklmnopqrstuvwx';

/** 100,000 prompt tokens, 80,000 of them audio; 1,000 answer tokens. */
const usageMetadata = {
  promptTokenCount: 100_000,
  candidatesTokenCount: 1_000,
  totalTokenCount: 101_000,
  promptTokensDetails: [
    { modality: 'TEXT', tokenCount: 20_000 },
    { modality: 'AUDIO', tokenCount: 80_000 },
  ],
};
/** 20,000 x 0.30 + 80,000 x 1.00 + 1,000 x 2.50, per million (at the text rate: 0.0325). */
const COST = '0.0885';

const answer = {
  candidates: [
    { content: { role: 'model', parts: [{ text: 'A dog barks.' }] }, finishReason: 'STOP', index: 0 },
  ],
  usageMetadata,
  responseId: 'r-audio',
  modelVersion: 'gemini-2.5-flash',
};

describe('Gemini audio input in the recorded cost', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let sentAudio = 0;

  before(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (part) => (body += part));
      req.on('end', () => {
        if (body.includes('"inlineData"') && body.includes('audio/')) sentAudio++;
        if (req.url?.includes(':streamGenerateContent')) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const { usageMetadata: _, ...first } = answer;
          res.write(
            `data: ${JSON.stringify({ ...first, candidates: [{ content: { role: 'model', parts: [{ text: 'A dog' }] }, index: 0 }] })}\n\n`,
          );
          res.end(
            `data: ${JSON.stringify({ ...answer, candidates: [{ content: { role: 'model', parts: [{ text: ' barks.' }] }, finishReason: 'STOP', index: 0 }] })}\n\n`,
          );
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
        models: [gemini-2.5-flash]
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

  const request = {
    model: 'gemini-2.5-flash',
    messages: [
      {
        role: 'user' as const,
        content: [
          { type: 'text' as const, text: 'What is in this recording?' },
          {
            type: 'input_audio' as const,
            input_audio: { data: 'UklGRiQAAABXQVZFZm10IA==', format: 'wav' as const },
          },
        ],
      },
    ],
  };
  const openai = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  const lastCost = async () => {
    const completed = (await gateway.requestEvents()).filter((e) => e.type === 'RequestCompleted');
    const last = completed.at(-1);
    return last?.type === 'RequestCompleted' ? [last.data.cost, last.data.currency] : undefined;
  };

  it('a whole answer: the audio tokens are charged at the audio rate', async () => {
    const completion = await openai().chat.completions.create(request);
    assert.equal(completion.choices[0]?.message.content, 'A dog barks.');
    assert.equal(sentAudio, 1);
    assert.deepEqual(await lastCost(), [COST, 'USD']);
  });

  it('a stream: the same', async () => {
    const stream = await openai().chat.completions.create({ ...request, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, 'A dog barks.');
    assert.deepEqual(await lastCost(), [COST, 'USD']);
  });
});
