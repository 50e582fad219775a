/**
 * POST /v1/messages/count_tokens forwarded to Claude takes a provider key with the balancer's
 * peek, not its hand-out: Anthropic limits token counting apart from message creation, so a
 * count must not spend the key's own `limits.rpm` that its messages need. A client that counts
 * before each message (Claude Code does) would otherwise find no key for the message (503).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type MockServer, startAnthropicMock } from '@kordon/mock-providers';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const ANTHROPIC_KEY = 'sk-ant-api03-countingabcdefghijklmnopqrstuvw';

describe('count_tokens and the provider key rpm of messages', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;

  before(async () => {
    mock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: claude
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-haiku-4-5]
        keys: [{ name: k1, secret: "${ANTHROPIC_KEY}", limits: { rpm: 3 } }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  it('counting tokens does not spend the key rpm its messages need', async () => {
    const anthropic = new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const request = { model: 'claude-haiku-4-5', messages: [{ role: 'user' as const, content: 'hello' }] };
    // Three counts (Claude's count_tokens: its own rate limit, free, not a message).
    for (let i = 0; i < 3; i++) {
      const counted = await anthropic.messages.countTokens(request);
      assert.equal(typeof counted.input_tokens, 'number');
    }
    assert.equal(
      mock.requests.filter((r) => r.path === '/v1/messages/count_tokens').length,
      3,
      'the counts went to Claude',
    );
    // The first message of the minute: the key has sent no message yet.
    const answer = await anthropic.messages
      .create({ ...request, max_tokens: 16 })
      .catch((error: unknown) => error);
    assert.ok(
      !(answer instanceof Error),
      `the message was refused after 3 counts: ${(answer as { status?: number }).status} ${(answer as Error).message}`,
    );
  });
});
