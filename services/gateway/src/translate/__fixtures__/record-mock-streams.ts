/**
 * Records the mock providers' answers as fixtures for the translation tests, so that the
 * unit tests replay the exact wire format the mocks produce (and the mocks were checked
 * against the official SDKs). Re-run after a change to the mocks:
 *
 *   node --conditions=development --import tsx services/gateway/src/translate/__fixtures__/record-mock-streams.ts
 */
import { writeFile } from 'node:fs/promises';
import { startAnthropicMock, startGeminiMock, startOpenAIMock } from '@kordon/mock-providers';

const here = new URL('./', import.meta.url);

const weatherParameters = {
  type: 'object',
  properties: { city: { type: 'string' }, days: { type: 'integer' } },
  required: ['city'],
};

async function record(
  name: string,
  url: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${name}: ${response.status} ${await response.text()}`);
  await writeFile(new URL(name, here), await response.text());
}

const openai = await startOpenAIMock({ keys: ['sk-test'], now: () => 1_750_000_000_000 });
const anthropic = await startAnthropicMock({ keys: ['sk-ant-test'], now: () => 1_750_000_000_000 });
const gemini = await startGeminiMock({ keys: ['AIza-test'], now: () => 1_750_000_000_000 });
try {
  const oa = `${openai.url}/v1/chat/completions`;
  const oaHeaders = { authorization: 'Bearer sk-test' };
  const oaTools = [{ type: 'function', function: { name: 'get_weather', parameters: weatherParameters } }];
  const oaText = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there, how are you?' }] };
  const oaTool = {
    ...oaText,
    messages: [{ role: 'user', content: 'call get_weather Paris' }],
    tools: oaTools,
  };
  await record('openai-text.json', oa, oaHeaders, oaText);
  await record('openai-tool.json', oa, oaHeaders, oaTool);
  const streamOptions = { stream: true, stream_options: { include_usage: true } };
  await record('openai-text.sse', oa, oaHeaders, { ...oaText, ...streamOptions });
  await record('openai-tool.sse', oa, oaHeaders, { ...oaTool, ...streamOptions });
  await record('openai-text-length.sse', oa, oaHeaders, {
    ...oaText,
    ...streamOptions,
    max_completion_tokens: 4,
  });

  const an = `${anthropic.url}/v1/messages`;
  const anHeaders = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' };
  const anTools = [{ name: 'get_weather', input_schema: weatherParameters }];
  const anText = {
    model: 'claude-haiku-4-5',
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'Hello there, how are you?' }],
  };
  const anTool = {
    ...anText,
    messages: [{ role: 'user', content: 'call get_weather Paris' }],
    tools: anTools,
  };
  await record('anthropic-text.json', an, anHeaders, anText);
  await record('anthropic-tool.json', an, anHeaders, anTool);
  await record('anthropic-text.sse', an, anHeaders, { ...anText, stream: true });
  await record('anthropic-tool.sse', an, anHeaders, { ...anTool, stream: true });
  await record('anthropic-text-max-tokens.sse', an, anHeaders, { ...anText, stream: true, max_tokens: 4 });

  const ge = (method: string) => `${gemini.url}/v1beta/models/gemini-2.5-flash:${method}`;
  const geHeaders = { 'x-goog-api-key': 'AIza-test' };
  const geText = {
    contents: [{ role: 'user', parts: [{ text: 'Hello there, how are you today my friend?' }] }],
  };
  const geTool = {
    contents: [{ role: 'user', parts: [{ text: 'call get_weather Paris' }] }],
    tools: [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: weatherParameters }] }],
  };
  await record('gemini-text.json', ge('generateContent'), geHeaders, geText);
  await record('gemini-tool.json', ge('generateContent'), geHeaders, geTool);
  await record('gemini-text.sse', `${ge('streamGenerateContent')}?alt=sse`, geHeaders, geText);
  await record('gemini-tool.sse', `${ge('streamGenerateContent')}?alt=sse`, geHeaders, geTool);
} finally {
  await Promise.all([openai.close(), anthropic.close(), gemini.close()]);
}
