/**
 * The contract for the OpenAI-compatible base, against the OpenAI mock (which answers as
 * vLLM, Groq and the other compatible servers do). Two presets that ask for stream usage
 * with stream_options; the vendors that send it unasked (Mistral, OpenRouter) are covered by
 * the unit tests, since the OpenAI mock, like OpenAI, sends stream usage only when asked.
 */
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { providerContract, REPLY_PREFIX } from '../provider-contract.js';
import { type OpenAICompatibleVendor, providerKey } from '../provider-types.js';
import { openAICompatibleProvider } from './openai-compatible-provider.js';

const KEY = 'compat-contract-key-0123456789';

for (const vendor of ['vllm', 'groq'] satisfies OpenAICompatibleVendor[]) {
  providerContract(`openai-compatible/${vendor} (OpenAI mock)`, async () => {
    const mock: MockServer = await startOpenAIMock({ keys: [KEY], frameDelayMs: 3 });
    return {
      adapter: openAICompatibleProvider,
      model: 'meta-llama/Llama-3.3-70B-Instruct',
      key: providerKey(`pk-${vendor}-1`, KEY),
      origin: mock.url,
      config: (origin) => ({ baseUrl: `${origin}/v1`, vendor }),
      setScenario: (scenario) => mock.setScenario(scenario),
      expectedText: (prompt) => `${REPLY_PREFIX}${prompt}`,
      rateLimitHeaders: true,
      keepAliveComments: true,
      close: () => mock.close(),
    };
  });
}
