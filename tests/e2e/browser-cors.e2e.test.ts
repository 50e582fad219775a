import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type MockServer, startAnthropicMock, startOpenAIMock } from '@kordon/mock-providers';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import {
  type KordonUnderTest,
  openAIAndClaudeConfig,
  startKordonUnderTest,
} from './support/kordon-under-test.js';

const CHROMIUM = '/usr/bin/chromium';
const OPENAI_KEY = 'sk-proj-browserabcdefghijklmnopqrstuvwxyz0123';
const ANTHROPIC_KEY = 'sk-ant-api03-browserabcdefghijklmnopqrstuvwxyz';

/**
 * The official SDKs as a web app ships them: bundled for the browser (esbuild, as Vite and
 * most bundlers do), from the packages the other suites run in Node.
 */
async function bundleSdks(): Promise<string> {
  const built = await build({
    stdin: {
      contents:
        "export { default as OpenAI } from 'openai'; export { default as Anthropic } from '@anthropic-ai/sdk';",
      resolveDir: dirname(fileURLToPath(import.meta.url)),
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  return built.outputFiles[0]!.text;
}

/** A web app's origin: an empty page and the bundled SDKs. */
async function startWebApp(sdks: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/')
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
    else if (req.url === '/sdks.mjs') res.writeHead(200, { 'content-type': 'text/javascript' }).end(sdks);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/**
 * A browser app built on the official SDKs (`dangerouslyAllowBrowser`) calls Kordon as it
 * calls the provider, from an origin the operator allows (KORDON_CORS_ORIGINS); a page of any
 * other origin cannot. Real Chromium, the SDKs bundled for it, Kordon on another port.
 */
describe('browsers: the official SDKs in a web page', {
  skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (apt-get install chromium)`,
}, () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let app: { server: Server; origin: string };
  let other: { server: Server; origin: string };
  let kordon: KordonUnderTest;
  let browser: Browser;
  let key: string;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    const sdks = await bundleSdks();
    app = await startWebApp(sdks);
    other = await startWebApp(sdks);
    kordon = await startKordonUnderTest(
      openAIAndClaudeConfig({ openai: openaiMock.url, anthropic: anthropicMock.url }, 'web'),
      { OPENAI_KEY, ANTHROPIC_KEY, KORDON_CORS_ORIGINS: `${app.origin}, https://chat.acme.example` },
    );
    key = kordon.proxyKeys.get('dev@acme.test--web')!;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await kordon?.stop();
    for (const server of [app?.server, other?.server]) server?.close();
    await openaiMock?.close();
    await anthropicMock?.close();
  });

  /** Runs `script` (the body of an async function of `kordon` and `key`) in a page of `origin`. */
  async function inPage<T>(origin: string, script: string): Promise<T> {
    const page = await browser.newPage();
    try {
      await page.goto(`${origin}/`);
      const run = new Function('args', `return (async ({ kordon, key }) => { ${script} })(args);`);
      return (await page.evaluate(run as (args: { kordon: string; key: string }) => Promise<T>, {
        kordon: kordon.url,
        key,
      })) as T;
    } finally {
      await page.close();
    }
  }

  it('the OpenAI SDK: a plain and a streamed answer, the request id, an error it can read', async () => {
    const result = await inPage<{ text: string; requestId: string; streamed: string; error: string }>(
      app.origin,
      `
      const { OpenAI } = await import('/sdks.mjs');
      const client = new OpenAI({ baseURL: kordon + '/v1', apiKey: key, dangerouslyAllowBrowser: true, maxRetries: 0 });
      const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from a page' }] });
      let streamed = '';
      const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'stream to a page' }], stream: true });
      for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
      const error = await client.chat.completions.create({ model: 'gpt-nonexistent', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
      return { text: plain.choices[0].message.content, requestId: plain._request_id, streamed, error: error.status + ' ' + error.message };
    `,
    );
    assert.ok(result.text.length > 0, 'a plain answer');
    assert.ok(result.streamed.length > 0, 'a streamed answer');
    assert.match(result.requestId, /^[0-9a-f-]{36}$/, 'x-request-id is exposed to the page');
    assert.match(result.error, /^404 .*gpt-nonexistent/, 'an error the SDK reads, status and message');
  });

  it('the Anthropic SDK: a plain and a streamed answer', async () => {
    const result = await inPage<{ text: string; streamed: string; requestId: string }>(
      app.origin,
      `
      const { Anthropic } = await import('/sdks.mjs');
      const client = new Anthropic({ baseURL: kordon, apiKey: key, dangerouslyAllowBrowser: true, maxRetries: 0 });
      const message = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hello from a page' }] });
      let streamed = '';
      const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'stream to a page' }] });
      for await (const event of stream) if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') streamed += event.delta.text;
      return { text: message.content[0].text, streamed, requestId: message._request_id };
    `,
    );
    assert.ok(result.text.length > 0 && result.streamed.length > 0);
    assert.match(result.requestId, /^[0-9a-f-]{36}$/);
  });

  it("the OpenAI SDK's delete calls pass the preflight (DELETE is not a safelisted method) and get Kordon's answer", async () => {
    const result = await inPage<string[]>(
      app.origin,
      `
      const { OpenAI } = await import('/sdks.mjs');
      const client = new OpenAI({ baseURL: kordon + '/v1', apiKey: key, dangerouslyAllowBrowser: true, maxRetries: 0 });
      const said = (e) => e.constructor.name + ' ' + e.status;
      return [
        await client.responses.delete('resp_nowhere').then(() => 'deleted', said),
        await client.chat.completions.delete('chatcmpl_nowhere').then(() => 'deleted', said),
      ];
    `,
    );
    // Refused by the preflight, the SDK would see no answer at all (APIConnectionError).
    assert.deepEqual(result, ['NotFoundError 404', 'NotFoundError 404']);
  });

  it('a page of an origin not allowed cannot call Kordon, and nothing reaches a provider', async () => {
    const before = (await kordon.requestEvents()).length;
    const requestsBefore = openaiMock.requests.length;
    const result = await inPage<string>(
      other.origin,
      `
      const { OpenAI } = await import('/sdks.mjs');
      const client = new OpenAI({ baseURL: kordon + '/v1', apiKey: key, dangerouslyAllowBrowser: true, maxRetries: 0 });
      const error = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
      return error.constructor.name + ': ' + error.message;
    `,
    );
    assert.match(result, /^APIConnectionError/, result);
    assert.equal(
      openaiMock.requests.length,
      requestsBefore,
      'the preflight was refused: no request was sent',
    );
    assert.equal((await kordon.requestEvents()).length, before);
  });

  it('the preflight names back the headers asked for; the admin API and probes get no CORS headers', async () => {
    const preflight = await fetch(`${kordon.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://chat.acme.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-stainless-os',
        'access-control-request-private-network': 'true',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://chat.acme.example');
    assert.equal(
      preflight.headers.get('access-control-allow-headers'),
      'authorization, content-type, x-stainless-os',
    );
    assert.equal(preflight.headers.get('access-control-allow-private-network'), 'true');
    const refused = await fetch(`${kordon.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    const probe = await fetch(`${kordon.url}/healthz`, { headers: { origin: app.origin } });
    assert.equal(probe.headers.get('access-control-allow-origin'), null);
  });
});
