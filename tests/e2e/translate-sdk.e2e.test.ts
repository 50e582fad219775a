/**
 * The official SDKs' stream helpers against Kordon translating streams of upstreams that
 * speak the documented wire formats, hand-written here for the cases the mock providers do
 * not produce.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, loadConfig, type RunningKordon, startKordon } from '@kordon/server';
import OpenAI from 'openai';
import { issuedProxyKeys } from './support/issued-proxy-keys.js';

const ANTHROPIC_KEY = 'sk-ant-api03-translatebcdefghijklmnopqrstuvwxyz0';
const GEMINI_KEY = 'AIzaSyDtranslateabcdefghijklmnopqrstuvwx';

const sse = (res: ServerResponse, events: object[], named: boolean) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const event of events) {
    const type = (event as { type?: string }).type;
    res.write(`${named && type ? `event: ${type}\n` : ''}data: ${JSON.stringify(event)}\n\n`);
  }
  res.end();
};

/**
 * Claude calling a tool that takes no arguments, streamed as the Messages API documents it:
 * tool_use starts with `input: {}`, one input_json_delta with `partial_json: ""`, then stop.
 */
const CLAUDE_NO_ARGUMENT_TOOL = [
  {
    type: 'message_start',
    message: {
      id: 'msg_01NoArguments',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 20, output_tokens: 1 },
    },
  },
  {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'tool_use', id: 'toolu_01NoArguments', name: 'get_time', input: {} },
  },
  { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } },
  { type: 'content_block_stop', index: 0 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { output_tokens: 12 },
  },
  { type: 'message_stop' },
];

/** Two Gemini candidates (candidateCount 2) that finish in different chunks. */
const GEMINI_TWO_CANDIDATES = [
  {
    candidates: [
      { content: { role: 'model', parts: [{ text: 'A' }] }, index: 0 },
      { content: { role: 'model', parts: [{ text: 'B' }] }, index: 1 },
    ],
    responseId: 'r2',
    modelVersion: 'gemini-2.5-flash',
  },
  {
    candidates: [{ content: { role: 'model', parts: [{ text: '!' }] }, finishReason: 'STOP', index: 0 }],
    responseId: 'r2',
    modelVersion: 'gemini-2.5-flash',
  },
  {
    candidates: [{ content: { role: 'model', parts: [{ text: '?' }] }, finishReason: 'STOP', index: 1 }],
    usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 4, totalTokenCount: 9 },
    responseId: 'r2',
    modelVersion: 'gemini-2.5-flash',
  },
];

/** A Gemini candidate whose function call failed: no content, only the reason and Gemini's message. */
const GEMINI_MALFORMED_CALL = {
  candidates: [
    {
      content: { role: 'model' },
      finishReason: 'MALFORMED_FUNCTION_CALL',
      finishMessage: 'Malformed function call: print(default_api.get_weather(',
      index: 0,
    },
  ],
  usageMetadata: { promptTokenCount: 40, totalTokenCount: 40 },
  responseId: 'r-malformed',
  modelVersion: 'gemini-2.5-flash',
};

describe('OpenAI SDK stream helpers on translated streams', () => {
  let kordon: RunningKordon;
  let upstream: Server;
  let dataDir: string;
  let proxyKey: string;

  before(async () => {
    upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        if (req.url?.startsWith('/v1/messages')) return sse(res, CLAUDE_NO_ARGUMENT_TOOL, true);
        if (body.includes('malformed')) {
          if (req.url?.includes(':streamGenerateContent')) return sse(res, [GEMINI_MALFORMED_CALL], false);
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify(GEMINI_MALFORMED_CALL));
        }
        if (req.url?.includes(':streamGenerateContent')) return sse(res, GEMINI_TWO_CANDIDATES, false);
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    dataDir = mkdtempSync(join(tmpdir(), 'kordon-translate-sdk-'));
    const configPath = join(dataDir, 'kordon.yaml');
    writeFileSync(
      configPath,
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: claude
        type: anthropic
        baseUrl: ${url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY_1}" }]
      - name: google
        type: gemini
        baseUrl: ${url}
        models: [gemini-2.5-flash]
        keys: [{ name: k1, secret: "\${GEMINI_KEY_1}" }]
    users:
      - email: alice@acme.test
        proxyKeys: [{ name: alice-laptop }]
`,
    );
    const env = {
      KORDON_PORT: '0',
      KORDON_DATA_DIR: dataDir,
      KORDON_LOG_LEVEL: 'silent',
      KORDON_DEV_MODE: 'true',
      KORDON_CONFIG: configPath,
      ANTHROPIC_KEY_1: ANTHROPIC_KEY,
      GEMINI_KEY_1: GEMINI_KEY,
    };
    const config = loadConfig(env);
    kordon = await startKordon(config, createLogger(config), env);
    const key = issuedProxyKeys(dataDir).get('alice@acme.test--alice-laptop');
    assert.ok(key);
    proxyKey = key;
  });

  after(async () => {
    await kordon?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const openai = () => new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey: proxyKey, maxRetries: 0 });

  it('Claude calls a no-argument tool, streamed: the arguments are "{}" as OpenAI sends (and as the plain answer says)', async () => {
    const stream = openai().chat.completions.stream({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'what time is it?' }],
      tools: [
        { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
      ],
    });
    const completion = await stream.finalChatCompletion();
    const call = completion.choices[0]?.message.tool_calls?.[0];
    assert.equal(call?.type, 'function');
    assert.equal(call?.type === 'function' ? call.function.arguments : undefined, '{}');
  });

  it('Claude calls a no-argument strict tool, streamed: finalChatCompletion() parses its arguments', async () => {
    const stream = openai().chat.completions.stream({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'what time is it?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_time',
            strict: true,
            parameters: { type: 'object', properties: {}, required: [], additionalProperties: false },
          },
        },
      ],
    });
    const completion = await stream.finalChatCompletion();
    const call = completion.choices[0]?.message.tool_calls?.[0];
    assert.deepEqual(call?.type === 'function' ? call.function.parsed_arguments : undefined, {});
  });

  it('Gemini with n=2, streamed: both choices arrive whole, each with its finish reason', async () => {
    const stream = openai().chat.completions.stream({
      model: 'gemini-2.5-flash',
      n: 2,
      messages: [{ role: 'user', content: 'two answers please' }],
    });
    const completion = await stream.finalChatCompletion();
    assert.deepEqual(
      completion.choices.map((choice) => [choice.message.content, choice.finish_reason]),
      [
        ['A!', 'stop'],
        ['B?', 'stop'],
      ],
    );
  });

  it('Gemini failing its function call: the stream ends in an error, the plain answer says why and ends length', async () => {
    const request = {
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user' as const, content: 'a malformed call please' }],
    };
    const stream = openai().chat.completions.stream(request);
    await assert.rejects(stream.finalChatCompletion(), /MALFORMED_FUNCTION_CALL/);
    const completion = await openai().chat.completions.create(request);
    assert.equal(completion.choices[0]?.finish_reason, 'length');
    assert.match(
      completion.choices[0]?.message.content ?? '',
      /^Gemini ended the answer with MALFORMED_FUNCTION_CALL: /,
    );
    assert.equal(completion.usage?.prompt_tokens, 40);
  });
});
