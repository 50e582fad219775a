export {
  type Answer,
  answerFor,
  type Conversation,
  countInputTokens,
  countTokens,
  DEFAULT_REPLY_PREFIX,
  embeddingFor,
  replyText,
  toolArguments,
  truncateToTokens,
} from './answers.js';
export {
  type AnthropicMockOptions,
  anthropicMessagesRefusal,
  DEFAULT_ANTHROPIC_MODELS,
  startAnthropicMock,
} from './anthropic-mock.js';
export { type GeminiMockOptions, geminiGenerateRefusal, startGeminiMock } from './gemini-mock.js';
export {
  type MockServer,
  type MockServerOptions,
  type ProviderName,
  type RecordedRequest,
  SCENARIO_HEADER,
  type ScenarioOptions,
  startMockServer,
} from './mock-server.js';
export {
  DEFAULT_OPENAI_MODELS,
  formatOpenAIDuration,
  type OpenAIMockOptions,
  openAIChatRefusal,
  startOpenAIMock,
} from './openai-mock.js';
export { DEFAULT_QUOTA, type QuotaLimits, type QuotaSnapshot } from './quota.js';
export {
  type MockErrorKind,
  parseScenario,
  type Scenario,
  toScenario,
  UnknownScenarioError,
} from './scenarios.js';
export { seededRandom } from './seeded-random.js';
export { awkwardPieces, type WireTiming, writeReply } from './wire.js';
