/**
 * The official `openai` SDK calling Claude models through Kordon with sampling parameters
 * OpenAI accepts and current Claude models refuse. The upstream here answers as Claude's
 * Messages API does: Opus 4.7 refuses any `temperature` ("`temperature` is deprecated for this
 * model."), the 4.5 models refuse `temperature` and `top_p` together and a `max_tokens` above
 * their 64,000, and any model a `metadata.user_id` holding an email address.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, loadConfig, type RunningKordon, startKordon } from '@kordon/server';
import OpenAI from 'openai';
import { issuedProxyKeys } from './support/issued-proxy-keys.js';

const ANTHROPIC_KEY = 'sk-ant-api03-samplingabcdefghijklmnopqrstuvwxy0';

const claudeError = (res: ServerResponse, message: string) => {
  res.writeHead(400, { 'content-type': 'application/json', 'request-id': 'req_sampling' });
  res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message } }));
};

const claudeMessage = (model: string) => ({
  id: 'msg_01Sampling',
  type: 'message',
  role: 'assistant',
  model,
  content: [{ type: 'text', text: 'Hello!' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 10, output_tokens: 3 },
});

describe('OpenAI SDK sampling parameters on current Claude models', () => {
  let kordon: RunningKordon;
  let upstream: Server;
  let dataDir: string;
  let proxyKey: string;
  const received: Record<string, unknown>[] = [];

  before(async () => {
    upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => {
        raw += chunk.toString();
      });
      req.on('end', () => {
        const body = JSON.parse(raw) as Record<string, unknown>;
        received.push(body);
        const model = String(body.model);
        if (model.startsWith('claude-opus-4-7') && body.temperature !== undefined)
          return claudeError(res, '`temperature` is deprecated for this model.');
        // Claude refuses an id it reads as personal data (BerriAI/litellm#10106).
        const userId = (body.metadata as { user_id?: string } | undefined)?.user_id;
        if (userId !== undefined && /@/.test(userId))
          return claudeError(
            res,
            'metadata.user_id: user_id appears to contain an email address. Please send a uuid or hash value instead.',
          );
        if (model === 'claude-sonnet-4-5' && Number(body.max_tokens) > 64_000)
          return claudeError(
            res,
            `max_tokens: ${String(body.max_tokens)} > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5`,
          );
        if (body.temperature !== undefined && body.top_p !== undefined)
          return claudeError(
            res,
            'temperature and top_p cannot both be specified for this model. Please use only one.',
          );
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(claudeMessage(model)));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    dataDir = mkdtempSync(join(tmpdir(), 'kordon-sampling-'));
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
        models: [claude-sonnet-4-5, claude-opus-4-7]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY_1}" }]
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

  /** Answered by Claude; returns the body Claude received. */
  async function answered(
    params: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
  ): Promise<Record<string, unknown>> {
    const completion = await openai().chat.completions.create(params);
    assert.equal(completion.choices[0]?.message.content, 'Hello!');
    const body = received.at(-1);
    assert.ok(body);
    return body;
  }

  it('temperature, top_p and top_k to claude-opus-4-7 are dropped, and Claude answers', async () => {
    const body = await answered({
      model: 'claude-opus-4-7',
      temperature: 0.7,
      top_p: 0.9,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.deepEqual([body.temperature, body.top_p, body.top_k], [undefined, undefined, undefined]);
  });

  it("max_completion_tokens 128000 (gpt-5's ceiling) to claude-sonnet-4-5 goes as its 64,000, and Claude answers", async () => {
    const body = await answered({
      model: 'claude-sonnet-4-5',
      max_completion_tokens: 128_000,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(body.max_tokens, 64_000);
  });

  it('an OpenAI `user` that is an email goes to Claude as its sha256 hex, and Claude answers', async () => {
    const email = 'alice@example.com';
    const body = await answered({
      model: 'claude-sonnet-4-5',
      user: email,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    // Opaque, and the same for the same user: Claude still tells users apart.
    assert.deepEqual(body.metadata, { user_id: createHash('sha256').update(email).digest('hex') });
    const opaque = await answered({
      model: 'claude-sonnet-4-5',
      user: 'user-7f3a',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.deepEqual(opaque.metadata, { user_id: 'user-7f3a' });
  });

  it('temperature with top_p to claude-sonnet-4-5: top_p is dropped, and Claude answers', async () => {
    const body = await answered({
      model: 'claude-sonnet-4-5',
      temperature: 0.7,
      top_p: 0.9,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.deepEqual([body.temperature, body.top_p], [0.7, undefined]);
  });
});
