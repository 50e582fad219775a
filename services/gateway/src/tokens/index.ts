export {
  ANTHROPIC_TOOL_PROMPT_AUTO,
  ANTHROPIC_TOOL_PROMPT_FORCED,
  type Approximation,
  countAnthropicMessages,
  countOpenAiChat,
  countOpenAiResponses,
  countTextTokens,
  DOCUMENT_TOKENS,
  REPLY_PRIMING_TOKENS,
  Tally,
  TOKENS_PER_MESSAGE,
  TOKENS_PER_NAME,
  type TokenCount,
} from './count.js';
export {
  type EstimateDialect,
  type EstimateRequest,
  type EstimateResult,
  estimatePromptTokens,
  estimateRequestTokens,
  type RequestTokenEstimate,
} from './estimate.js';
export {
  anthropicImageTokens,
  type ImageSize,
  type ImageTokens,
  imageSizeFromBase64,
  imageSizeFromDataUrl,
  openAiImageTokens,
  sniffImageSize,
} from './images.js';
export {
  type AnthropicMessagesRequest,
  anthropicMessagesRequest,
  type EmbeddingsRequest,
  embeddingsRequest,
  type OpenAiChatRequest,
  openAiChatRequest,
} from './request-shapes.js';
export {
  baseModelName,
  type Encoder,
  type EncodingName,
  getEncoder,
  loadedEncodings,
  type ModelTokenizer,
  preloadEncodings,
  tokenizerForModel,
} from './tokenizer.js';
