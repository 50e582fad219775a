/**
 * Images and documents in OpenAI-SDK requests translated for Claude and Gemini, and in
 * Anthropic-SDK requests translated for GPT. The mock providers record the bodies Kordon sends.
 *
 * OpenAI accepts `data:image/jpg;base64,...` and does not care which image type a data URL
 * names; Claude accepts only image/jpeg, png, gif and webp, and refuses an image whose bytes
 * do not match the media type given ("Image does not match the provided media type image/png").
 * Inline data that is not base64 is refused by Kordon naming the caller's field, not sent on for
 * the provider to refuse with a path of the translated body. A document's title and context,
 * text the model reads, reach a provider that has no such fields as text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import {
  type MockServer,
  startAnthropicMock,
  startGeminiMock,
  startOpenAIMock,
} from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-imagestrans0123456789abcdefghijklmnop';
const ANTHROPIC_KEY = 'sk-ant-api03-imagestransbcdefghijklmnopqrstuvwxyz0';
const GEMINI_KEY = 'AIzaSyDimagestransabcdefghijklmnopqrstuv';

/** The first bytes of a real JPEG (SOI, APP0/JFIF, then a 1x1 baseline SOF0), base64. */
const JPEG_BASE64 = Buffer.from([
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
  0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00, 0xff, 0xd9,
]).toString('base64');

function lastBody(mock: MockServer): Record<string, unknown> {
  const request = mock.requests.at(-1);
  assert.ok(request, 'the provider received no request');
  return request.body as Record<string, unknown>;
}

describe('images across dialects', () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let geminiMock: MockServer;
  let gateway: KordonUnderTest;
  let proxyKey: string;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    geminiMock = await startGeminiMock({ keys: [GEMINI_KEY] });
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
      - name: claude
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
      - name: google
        type: gemini
        baseUrl: ${geminiMock.url}
        models: [gemini-2.5-flash]
        keys: [{ name: k1, secret: "\${GEMINI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY },
    );
    const key = gateway.proxyKeys.get('dev@acme.test--laptop');
    assert.ok(key);
    proxyKey = key;
  });

  after(async () => {
    await gateway?.stop();
    await Promise.all([openaiMock?.close(), anthropicMock?.close(), geminiMock?.close()]);
  });

  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: proxyKey, maxRetries: 0 });
  const anthropic = () => new Anthropic({ baseURL: gateway.url, apiKey: proxyKey, maxRetries: 0 });

  const imageMessage = (url: string) => [
    {
      role: 'user' as const,
      content: [
        { type: 'text' as const, text: 'what is this?' },
        { type: 'image_url' as const, image_url: { url } },
      ],
    },
  ];

  it('OpenAI SDK -> Claude: a `data:image/jpg` JPEG (which OpenAI accepts) reaches Claude as image/jpeg instead of a 400', async () => {
    anthropicMock.clearRequests();
    const completion = await openai().chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: imageMessage(`data:image/jpg;base64,${JPEG_BASE64}`),
    });
    assert.ok(completion.choices[0]?.message);
    const content = (
      lastBody(anthropicMock).messages as { content: { type: string; source?: unknown }[] }[]
    )[0]?.content;
    const image = content?.find((block) => block.type === 'image');
    assert.deepEqual((image?.source as { media_type?: string } | undefined)?.media_type, 'image/jpeg');
  });

  it('OpenAI SDK -> Claude: JPEG bytes labelled image/png are sent with the media type of their bytes (Claude refuses a mismatch)', async () => {
    anthropicMock.clearRequests();
    await openai().chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: imageMessage(`data:image/png;base64,${JPEG_BASE64}`),
    });
    const content = (
      lastBody(anthropicMock).messages as { content: { type: string; source?: unknown }[] }[]
    )[0]?.content;
    const image = content?.find((block) => block.type === 'image');
    assert.equal(
      (image?.source as { media_type?: string } | undefined)?.media_type,
      'image/jpeg',
      'Claude answers 400 "Image does not match the provided media type image/png" for this body',
    );
  });

  for (const model of ['claude-sonnet-4-5', 'gemini-2.5-flash']) {
    it(`OpenAI SDK -> ${model}: an image with \`detail: "original"\` (an SDK value) reaches the model, detail dropped, instead of a 400`, async () => {
      anthropicMock.clearRequests();
      geminiMock.clearRequests();
      const completion = await openai().chat.completions.create({
        model,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'read the small print' },
              {
                type: 'image_url',
                image_url: { url: `data:image/jpeg;base64,${JPEG_BASE64}`, detail: 'original' },
              },
            ],
          },
        ],
      });
      assert.ok(completion.choices[0]?.message);
      const sent = JSON.stringify(lastBody(model.startsWith('claude') ? anthropicMock : geminiMock));
      assert.ok(sent.includes(JPEG_BASE64), 'the image reaches the provider');
      assert.ok(!sent.includes('original'), 'OpenAI-only `detail` is not sent on');
    });

    it(`OpenAI SDK -> ${model}: a data URL whose payload is not base64 is a 400 naming the caller's field, not sent to the provider`, async () => {
      anthropicMock.clearRequests();
      geminiMock.clearRequests();
      const error = await openai()
        .chat.completions.create({
          model,
          messages: imageMessage('data:image/png;base64,this is not base64 at all!'),
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(error instanceof OpenAI.BadRequestError, `expected a 400, got ${String(error)}`);
      assert.equal(
        (error.error as { param?: string } | undefined)?.param,
        'messages[0].content[1].image_url.url',
      );
      assert.equal(anthropicMock.requests.length + geminiMock.requests.length, 0);
    });
  }

  it("OpenAI SDK -> Claude: a full-page screenshot over Claude's 8000 px is a 400 naming the caller's field, not sent", async () => {
    // A PNG's signature and IHDR: 1280 x 12000 pixels (OpenAI scales it down; Claude refuses it).
    const head = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(head);
    head.writeUInt32BE(13, 8);
    head.write('IHDR', 12, 'latin1');
    head.writeUInt32BE(1280, 16);
    head.writeUInt32BE(12_000, 20);
    anthropicMock.clearRequests();
    const error = await openai()
      .chat.completions.create({
        model: 'claude-sonnet-4-5',
        messages: imageMessage(`data:image/png;base64,${head.toString('base64')}`),
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof OpenAI.BadRequestError, `expected a 400, got ${String(error)}`);
    assert.equal(
      (error.error as { param?: string } | undefined)?.param,
      'messages[0].content[1].image_url.url',
    );
    assert.equal(anthropicMock.requests.length, 0);
  });

  it("Anthropic SDK -> GPT: an image whose base64 data is empty is a 400 naming the caller's block, not sent to OpenAI", async () => {
    openaiMock.clearRequests();
    const error = await anthropic()
      .messages.create({
        model: 'gpt-4o',
        max_tokens: 50,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: '' } },
            ],
          },
        ],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof Anthropic.BadRequestError, `expected a 400, got ${String(error)}`);
    assert.equal(openaiMock.requests.length, 0);
  });

  /*
   * A tool may return a document (Anthropic's tool_result content takes document blocks: a PDF a
   * file-reading tool read, a text file). It was refused for every model but Claude ("Documents
   * inside tool results can only be sent to Claude models"), though GPT and Gemini read PDFs: it
   * now goes as the images of a tool result do, right after the results, a text document as text.
   */
  const toolDocumentTurns = (): Anthropic.MessageParam[] => [
    { role: 'user', content: 'Summarise the report.' },
    {
      role: 'assistant',
      content: [{ type: 'tool_use', id: 'toolu_read1', name: 'read_file', input: { path: 'report.pdf' } }],
    },
    {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: 'toolu_read1',
          content: [
            { type: 'text', text: 'report.pdf, 1 page' },
            {
              type: 'document',
              source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' },
              title: 'Q3 report',
            },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Errata: none.' } },
          ],
        },
      ],
    },
  ];
  const readFileTool: Anthropic.Tool = {
    name: 'read_file',
    input_schema: { type: 'object', properties: { path: { type: 'string' } } },
  };

  it('Anthropic SDK -> GPT: a PDF inside a tool result reaches GPT as a file part after the tool message', async () => {
    openaiMock.clearRequests();
    await anthropic().messages.create({
      model: 'gpt-4o',
      max_tokens: 50,
      tools: [readFileTool],
      messages: toolDocumentTurns(),
    });
    const messages = lastBody(openaiMock).messages as { role: string; content: unknown }[];
    assert.deepEqual(messages.slice(2), [
      { role: 'tool', tool_call_id: 'toolu_read1', content: 'report.pdf, 1 page\nErrata: none.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Q3 report' },
          {
            type: 'file',
            file: { filename: 'Q3 report', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' },
          },
        ],
      },
    ]);
  });

  it('Anthropic SDK -> Gemini: a PDF inside a tool result reaches Gemini as inline data after the function response', async () => {
    geminiMock.clearRequests();
    await anthropic().messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 50,
      tools: [readFileTool],
      messages: toolDocumentTurns(),
    });
    const contents = lastBody(geminiMock).contents as { parts: unknown[] }[];
    assert.deepEqual(contents[2]?.parts, [
      {
        functionResponse: {
          id: 'toolu_read1',
          name: 'read_file',
          response: { output: 'report.pdf, 1 page\nErrata: none.' },
        },
      },
      { text: 'Q3 report' },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0xLjQK' } },
    ]);
  });

  it("Anthropic SDK -> Gemini: a PDF document's title and context reach Gemini as text before it", async () => {
    geminiMock.clearRequests();
    await anthropic().messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 50,
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'document',
              source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' },
              title: 'Q3 board minutes',
              context: 'The unreviewed draft, not the published version.',
            },
            { type: 'text', text: 'Is this the draft?' },
          ],
        },
      ],
    });
    const contents = lastBody(geminiMock).contents as { parts: unknown[] }[];
    assert.deepEqual(contents[0]?.parts, [
      { text: 'Q3 board minutes\n\nThe unreviewed draft, not the published version.' },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0xLjQK' } },
      { text: 'Is this the draft?' },
    ]);
  });
});
