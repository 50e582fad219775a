/**
 * Anthropic's MCP connector (`mcp_servers`) and code-execution `container` run at Anthropic, as
 * its server tools do: for a model another provider serves they are refused with a 400 naming
 * the field, as server tools are, not stripped (the model answered as if the caller's MCP tools
 * did not exist, and the caller's agent could not tell).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-mcpconnectabcdefghijklmnopqrstuvwxyz0123';

describe('mcp_servers sent for a non-Claude model', () => {
  let openaiMock: MockServer;
  let gateway: KordonUnderTest;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "${OPENAI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    await openaiMock?.close();
  });

  it('is refused with a 400 naming mcp_servers, as server tools are, not dropped', async () => {
    const anthropic = new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    openaiMock.clearRequests();
    const answer = await anthropic.beta.messages
      .create({
        model: 'gpt-4o-mini',
        max_tokens: 100,
        betas: ['mcp-client-2025-04-04'],
        mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'tickets' }],
        messages: [{ role: 'user', content: 'list my open tickets' }],
      })
      .catch((error: unknown) => error);
    assert.ok(
      answer instanceof Anthropic.APIError && answer.status === 400 && /mcp_servers/.test(answer.message),
      `answered ${answer instanceof Anthropic.APIError ? answer.status : 200} without the MCP tools (provider called ${openaiMock.requests.length} time(s), body keys: ${Object.keys((openaiMock.requests[0]?.body ?? {}) as object).join(',')})`,
    );
    assert.equal(openaiMock.requests.length, 0);
  });
});
