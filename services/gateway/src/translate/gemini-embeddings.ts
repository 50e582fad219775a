/**
 * An OpenAI embeddings request for Gemini's `models/{model}:batchEmbedContents`, and Gemini's
 * answer in OpenAI's shape (ai.google.dev/api/embeddings):
 *
 * - request: `{ requests: [{ model: "models/<m>", content: { parts: [{ text }] },
 *   outputDimensionality? }] }`, one request per input, in order;
 * - answer: `{ embeddings: [{ values: [...] }], usageMetadata?: { promptTokenCount } }`, the
 *   embeddings in the order of the requests (`EmbeddingUsageMetadata`; older answers have none).
 */
import { TranslationError } from './translation-error.js';

/**
 * Gemini refuses a batch of more than 100 requests ("BatchEmbedContentsRequest.requests: at
 * most 100 requests can be in one batch", a 400; undocumented, observed: langchain-ai/
 * langchainjs#4491, vercel/ai#16101), and so does its own OpenAI-compatible /embeddings.
 */
export const GEMINI_MAX_EMBEDDINGS_PER_CALL = 100;

export type EmbeddingsEncoding = 'float' | 'base64';

export interface GeminiEmbeddingsRequest {
  /** The batchEmbedContents body. */
  readonly body: { requests: Array<Record<string, unknown>> };
  /** The texts, in order: counted with a tokenizer when the answer reports no usage. */
  readonly texts: readonly string[];
  /** How the caller wants the vectors (OpenAI's default: float). */
  readonly encoding: EmbeddingsEncoding;
  /**
   * Whether the vectors must be scaled to length 1: Gemini normalizes only a model's full-size
   * vectors ("For other dimensions, including 768 and 1536, you need to normalize the
   * embeddings", ai.google.dev/gemini-api/docs/embeddings), OpenAI's are unit vectors at any
   * `dimensions`, and its callers rank them by dot product.
   */
  readonly unitLength: boolean;
}

/**
 * The batchEmbedContents body for an OpenAI caller's embeddings request, or a TranslationError
 * naming the caller's field: token ids (Gemini embeds text only), more inputs than one batch
 * takes, an encoding or a dimension count OpenAI would not take either. `user` (an end-user id
 * that changes no vector) has no Gemini counterpart and is left out.
 */
export function openAIToGeminiEmbeddingsRequest(
  body: Readonly<Record<string, unknown>>,
  model: string,
): GeminiEmbeddingsRequest {
  const texts = inputTexts(body.input, model);
  const encoding = body.encoding_format ?? 'float';
  if (encoding !== 'float' && encoding !== 'base64')
    throw new TranslationError(
      'invalid_value',
      'encoding_format',
      `encoding_format: must be "float" or "base64", got ${JSON.stringify(encoding).slice(0, 40)}`,
    );
  const dimensions = body.dimensions;
  if (dimensions != null && !(Number.isInteger(dimensions) && (dimensions as number) > 0))
    throw new TranslationError(
      'invalid_value',
      'dimensions',
      `dimensions: must be a positive integer, got ${JSON.stringify(dimensions).slice(0, 40)}`,
    );
  // Every request of a batch names the batch's model (the reference: they must match).
  const resource = model.startsWith('models/') ? model : `models/${model}`;
  const requests = texts.map((text) => ({
    model: resource,
    content: { parts: [{ text }] },
    ...(dimensions != null && { outputDimensionality: dimensions }),
  }));
  return { body: { requests }, texts, encoding, unitLength: dimensions != null };
}

function inputTexts(input: unknown, model: string): string[] {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input))
    throw new TranslationError('invalid_value', 'input', 'input: must be a string or an array of strings');
  if (input.length === 0)
    throw new TranslationError('invalid_value', 'input', 'input: an empty list has nothing to embed');
  if (input.every((item) => typeof item === 'string')) {
    if (input.length > GEMINI_MAX_EMBEDDINGS_PER_CALL)
      throw new TranslationError(
        'unsupported_value',
        'input',
        `input: ${model} embeds at most ${GEMINI_MAX_EMBEDDINGS_PER_CALL} inputs a request (Gemini's batch limit), got ${input.length}; send them in batches of ${GEMINI_MAX_EMBEDDINGS_PER_CALL} or fewer`,
      );
    return input as string[];
  }
  // `[1, 2]` or `[[1, 2], [3]]` (tiktoken ids, as LangChain's OpenAIEmbeddings sends by default).
  if (input.every((item) => typeof item === 'number' || Array.isArray(item)))
    throw new TranslationError(
      'unsupported_value',
      'input',
      `input: ${model} embeds text only: token ids cannot be sent to Gemini, send the text itself (LangChain's OpenAIEmbeddings: check_embedding_ctx_length=False)`,
    );
  throw new TranslationError('invalid_value', 'input', 'input: must be a string or an array of strings');
}

/** Gemini's answer read: one vector per input, and the tokens it reports (if any). */
export interface GeminiEmbeddings {
  readonly vectors: ReadonlyArray<readonly number[]>;
  readonly promptTokens: number | undefined;
}

/**
 * Gemini's batchEmbedContents answer read by hand (a batch is up to 100 vectors of up to
 * 3,072 numbers: a schema would walk each number through its checks), or why it cannot be:
 * not one vector of numbers per input. `unitLength`: each vector scaled to length 1.
 */
export function readGeminiEmbeddings(
  json: unknown,
  inputs: number,
  unitLength = false,
): GeminiEmbeddings | string {
  const embeddings = (json as { embeddings?: unknown } | null)?.embeddings;
  if (!Array.isArray(embeddings)) return 'embeddings: not a list';
  if (embeddings.length !== inputs) return `embeddings: ${embeddings.length} vectors for ${inputs} inputs`;
  const vectors: number[][] = [];
  for (const [index, embedding] of embeddings.entries()) {
    const values = (embedding as { values?: unknown } | null)?.values;
    if (!Array.isArray(values)) return `embeddings[${index}].values: not a list`;
    for (const value of values)
      if (typeof value !== 'number') return `embeddings[${index}].values: not a list of numbers`;
    vectors.push(unitLength ? scaledToUnitLength(values as number[]) : (values as number[]));
  }
  const reported = (json as { usageMetadata?: { promptTokenCount?: unknown } | null }).usageMetadata
    ?.promptTokenCount;
  const promptTokens =
    typeof reported === 'number' && Number.isInteger(reported) && reported >= 0 ? reported : undefined;
  return { vectors, promptTokens };
}

/** The vector divided by its length; a zero vector, which has no direction, as it is. */
export function scaledToUnitLength(vector: readonly number[]): number[] {
  let squares = 0;
  for (const value of vector) squares += value * value;
  const length = Math.sqrt(squares);
  return length === 0 ? [...vector] : vector.map((value) => value / length);
}

/**
 * The OpenAI embeddings answer (`object: "list"`, `data[i] = { object: "embedding", index: i,
 * embedding }`, `model`, `usage`), written as text: a vector as numbers, or as OpenAI's base64
 * (the bytes of its little-endian float32 values), which the openai SDK asks for when its
 * caller names no encoding and decodes back to numbers.
 */
export function openAIEmbeddingsAnswer(
  vectors: ReadonlyArray<readonly number[]>,
  options: { model: string; encoding: EmbeddingsEncoding; promptTokens: number },
): string {
  const parts = ['{"object":"list","data":['];
  for (const [index, vector] of vectors.entries()) {
    const embedding = options.encoding === 'base64' ? `"${float32Base64(vector)}"` : JSON.stringify(vector);
    parts.push(`${index === 0 ? '' : ','}{"object":"embedding","index":${index},"embedding":${embedding}}`);
  }
  const tokens = options.promptTokens;
  parts.push(
    `],"model":${JSON.stringify(options.model)},"usage":{"prompt_tokens":${tokens},"total_tokens":${tokens}}}`,
  );
  return parts.join('');
}

/** A vector as OpenAI's base64: little-endian float32, whatever the machine's byte order. */
export function float32Base64(vector: readonly number[]): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i] as number, i * 4);
  return bytes.toString('base64');
}
