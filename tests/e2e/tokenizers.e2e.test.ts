import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { it } from 'node:test';
import OpenAI from 'openai';
import { startKordonUnderTest } from './support/kordon-under-test.js';

const CONFIG = `
orgs:
  - slug: acme
    name: Acme
    users:
      - email: dev@acme.test
`;

/** The log lines of a Kordon started (and stopped) with `env`. */
async function startLog(env: Record<string, string>): Promise<Array<{ msg?: string; encodings?: string[] }>> {
  const gateway = await startKordonUnderTest(
    CONFIG,
    { KORDON_LOG_LEVEL: 'info', ...env },
    { logFileInDataDir: 'kordon.log' },
  );
  await gateway.stop({ keepData: true });
  // pino-roll numbers its files: kordon.1.log, kordon.2.log...
  const files = readdirSync(gateway.dataDir).filter((name) => /^kordon\.\d+\.log$/.test(name));
  const lines = files.flatMap((name) => readFileSync(join(gateway.dataDir, name), 'utf8').trim().split('\n'));
  rmSync(gateway.dataDir, { recursive: true, force: true });
  return lines.map((line) => JSON.parse(line) as { msg?: string; encodings?: string[] });
}

/*
 * Counting tokens loads a tokenizer's tables on first use: ~0.5 s of CPU on the event loop
 * (every request in flight waits) and tens of MB of heap. KORDON_PRELOAD_TOKENIZERS moves that
 * to the start, before the server says it is ready; by default nothing is loaded until needed.
 */
it('the tokenizers load at start when asked, and only then', async () => {
  const preloaded = (await startLog({ KORDON_PRELOAD_TOKENIZERS: 'true' })).find(
    (line) => line.msg === 'tokenizers loaded',
  );
  assert.deepEqual(preloaded?.encodings, ['o200k_base', 'cl100k_base']);
  const ready = await startLog({});
  assert.equal(
    ready.some((line) => line.msg === 'tokenizers loaded'),
    false,
  );
});

it("an answer without usage from gpt-35-turbo (Azure's name of gpt-3.5-turbo) is counted with cl100k_base", async () => {
  // tiktoken's model.py: "gpt-35-turbo": "cl100k_base"  # Azure deployment name. The upstream
  // answers "Hello there friend" (3 tokens either way) and reports no usage; the prompt
  // "Привет, как дела? Это проверка подсчёта токенов." is 22 tokens in cl100k_base, 17 in
  // o200k_base: 3 + 1 ("user") + 22 + 3 = 29 prompt tokens by OpenAI's cookbook framing.
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-azure-name',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-35-turbo',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'Hello there friend' },
              finish_reason: 'stop',
            },
          ],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-35-turbo: { input: 0.5, output: 1.5, currency: USD }
    providers:
      - name: azure-compatible
        type: openai-compatible
        baseUrl: http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1
        models: [gpt-35-turbo]
        keys: [{ name: k1, secret: "azure-compatible-key-0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  try {
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    await openai.chat.completions.create({
      model: 'gpt-35-turbo',
      messages: [{ role: 'user', content: 'Привет, как дела? Это проверка подсчёта токенов.' }],
    });
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.equal(event.data.usage.inputTokens, 29);
    assert.equal(event.data.usage.outputTokens, 3);
  } finally {
    await gateway.stop();
    upstream.close();
  }
});
