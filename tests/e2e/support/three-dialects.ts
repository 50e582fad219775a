/**
 * Kordon in front of one model of each dialect, each on its provider's mock: `gpt-4o-mini`
 * (OpenAI), `claude-sonnet-4-5` (Anthropic) and `gemini-2.5-flash` (Gemini), one key each, and
 * one developer proxy key (`dev@acme.test--dev`). For tests of what a caller of one dialect
 * gets from a model of another.
 */
import {
  type MockServer,
  startAnthropicMock,
  startGeminiMock,
  startOpenAIMock,
} from '@kordon/mock-providers';
import { type KordonUnderTest, startKordonUnderTest } from './kordon-under-test.js';

export interface ThreeDialects {
  readonly openaiMock: MockServer;
  readonly anthropicMock: MockServer;
  readonly geminiMock: MockServer;
  readonly gateway: KordonUnderTest;
  /** The developer's proxy key. */
  readonly proxyKey: string;
  stop(): Promise<void>;
}

/** The provider keys the mocks take; each test file names its own, so logs tell them apart. */
export interface ThreeDialectKeys {
  readonly openai: string;
  readonly anthropic: string;
  readonly gemini: string;
}

export async function startThreeDialects(keys: ThreeDialectKeys): Promise<ThreeDialects> {
  const openaiMock = await startOpenAIMock({ keys: [keys.openai] });
  const anthropicMock = await startAnthropicMock({ keys: [keys.anthropic] });
  const geminiMock = await startGeminiMock({ keys: [keys.gemini] });
  const closeMocks = () => Promise.all([openaiMock.close(), anthropicMock.close(), geminiMock.close()]);
  let gateway: KordonUnderTest;
  try {
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
      - name: anthropic
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
        proxyKeys: [{ name: dev }]
`,
      { OPENAI_KEY: keys.openai, ANTHROPIC_KEY: keys.anthropic, GEMINI_KEY: keys.gemini },
    );
  } catch (error) {
    await closeMocks();
    throw error;
  }
  return {
    openaiMock,
    anthropicMock,
    geminiMock,
    gateway,
    proxyKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
    async stop() {
      await gateway.stop();
      await closeMocks();
    },
  };
}
