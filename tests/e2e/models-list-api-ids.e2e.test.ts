/**
 * `GET /v1/models` for a provider configured by a pattern lists the names its API takes: the
 * price table keys some Claude models by their family (`claude-sonnet-4`, which prices
 * `claude-sonnet-4-20250514`), a name Anthropic answers with a 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('models.list under a pattern: API model ids', () => {
  let gateway: KordonUnderTest;

  before(async () => {
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: claude
        type: anthropic
        baseUrl: http://127.0.0.1:9
        models: ["claude-3*", "claude-sonnet-4*"]
        keys: [{ name: k1, secret: "sk-ant-api03-modelslistapiidsabcdefghijklmnopqrs" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: dev }
`);
  });
  after(async () => {
    await gateway?.stop();
  });

  it('lists the ids Anthropic takes, never a family name it 404s', async () => {
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const listed = (await openai.models.list()).data.map((model) => model.id);
    assert.deepEqual(listed, [
      'claude-3-7-sonnet-latest',
      'claude-3-5-haiku-latest',
      'claude-3-haiku-20240307',
      'claude-sonnet-4-6',
      'claude-sonnet-4-5',
      'claude-sonnet-4-0',
    ]);
  });
});
